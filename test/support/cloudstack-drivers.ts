import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Real CloudStack clients as programs the tests run: the Python `cs` client (command
 * `cloudstack`) and a small program over the Go SDK. Each answers a command as the client
 * does, after waiting for its job with the client's own polling.
 */

const run = promisify(execFile);
export type Row = Record<string, unknown>;
export type Keys = { apiKey: string; secretKey: string };

/** A real client: `call` runs one command (waiting for its job, as the client does) and answers `{ <object name>: {...} }`. */
export interface Driver {
  readonly name: string;
  /** Why it cannot run here, or undefined. */
  prepare(): Promise<string | undefined>;
  call(endpoint: string, keys: Keys, command: string, params: Record<string, string>): Promise<Row>;
  cleanup(): Promise<void>;
}

/** The Python `cs` client (Debian package `cs`, command `cloudstack`). */
export const csDriver: Driver = {
  name: 'the Python cs client',
  async prepare() {
    try {
      const { stdout } = await run('cloudstack', ['--help'], { timeout: 20_000 });
      return stdout.includes('COMMAND') ? undefined : 'the command cloudstack is not the Python cs client';
    } catch {
      return 'the Python cs client (Debian package cs, command cloudstack) is not installed';
    }
  },
  async call(endpoint, keys, command, params) {
    const env = { ...process.env, CLOUDSTACK_ENDPOINT: endpoint, CLOUDSTACK_KEY: keys.apiKey, CLOUDSTACK_SECRET: keys.secretKey, CLOUDSTACK_TIMEOUT: '600' };
    const args = ['--quiet', command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    const { stdout } = await run('cloudstack', args, { env, timeout: 630_000 }).catch((err: unknown) => {
      throw new Error(`cloudstack ${args.join(' ')} failed: ${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? String(err)}`);
    });
    // cs prints nothing for an empty answer (a list with no rows is `{}`).
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Row);
  },
  cleanup: () => Promise.resolve(),
};

/*
 * The Go SDK (Debian package golang-github-xanzy-go-cloudstack-dev, 2.9.0), its async client
 * waiting for each job: a small program built offline from the packaged source maps a command
 * and its parameters to the SDK's typed call and prints the typed result under its object name.
 */
const sdkSource = '/usr/share/gocode/src/github.com/xanzy/go-cloudstack';
const goMod = `module kumulus.test/gosdklifecycle\n\ngo 1.21\n\nrequire github.com/xanzy/go-cloudstack/v2 v2.9.0\n\nreplace github.com/xanzy/go-cloudstack/v2 => ${sdkSource}\n`;
const goProgram = `package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/xanzy/go-cloudstack/v2/cloudstack"
)

func main() {
	cs := cloudstack.NewAsyncClient(os.Getenv("CS_ENDPOINT"), os.Getenv("CS_KEY"), os.Getenv("CS_SECRET"), false)
	// A booted guest's stop can take minutes on an emulated, loaded host.
	cs.AsyncTimeout(600)
	p := map[string]string{}
	for _, arg := range os.Args[2:] {
		kv := strings.SplitN(arg, "=", 2)
		p[kv[0]] = kv[1]
	}
	var name string
	var out interface{}
	var err error
	vms := cs.VirtualMachine
	switch os.Args[1] {
	case "createSSHKeyPair":
		name = "keypair"
		out, err = cs.SSH.CreateSSHKeyPair(cs.SSH.NewCreateSSHKeyPairParams(p["name"]))
	case "deployVirtualMachine":
		d := vms.NewDeployVirtualMachineParams(p["serviceofferingid"], p["templateid"], p["zoneid"])
		d.SetNetworkids([]string{p["networkids"]})
		d.SetKeypair(p["keypair"])
		d.SetUserdata(p["userdata"])
		d.SetName(p["name"])
		name = "virtualmachine"
		out, err = vms.DeployVirtualMachine(d)
	case "stopVirtualMachine":
		name = "virtualmachine"
		out, err = vms.StopVirtualMachine(vms.NewStopVirtualMachineParams(p["id"]))
	case "startVirtualMachine":
		name = "virtualmachine"
		out, err = vms.StartVirtualMachine(vms.NewStartVirtualMachineParams(p["id"]))
	case "rebootVirtualMachine":
		name = "virtualmachine"
		out, err = vms.RebootVirtualMachine(vms.NewRebootVirtualMachineParams(p["id"]))
	case "destroyVirtualMachine":
		d := vms.NewDestroyVirtualMachineParams(p["id"])
		if p["expunge"] == "true" {
			d.SetExpunge(true)
		}
		name = "virtualmachine"
		out, err = vms.DestroyVirtualMachine(d)
	case "recoverVirtualMachine":
		name = "virtualmachine"
		out, err = vms.RecoverVirtualMachine(vms.NewRecoverVirtualMachineParams(p["id"]))
	case "expungeVirtualMachine":
		name = "success"
		out, err = vms.ExpungeVirtualMachine(vms.NewExpungeVirtualMachineParams(p["id"]))
	case "listVirtualMachines":
		l := vms.NewListVirtualMachinesParams()
		l.SetListall(true)
		name = "list"
		out, err = vms.ListVirtualMachines(l)
	case "createVolume":
		c := cs.Volume.NewCreateVolumeParams()
		c.SetName(p["name"])
		c.SetZoneid(p["zoneid"])
		c.SetDiskofferingid(p["diskofferingid"])
		name = "volume"
		out, err = cs.Volume.CreateVolume(c)
	case "attachVolume":
		name = "volume"
		out, err = cs.Volume.AttachVolume(cs.Volume.NewAttachVolumeParams(p["id"], p["virtualmachineid"]))
	case "detachVolume":
		d := cs.Volume.NewDetachVolumeParams()
		d.SetId(p["id"])
		name = "volume"
		out, err = cs.Volume.DetachVolume(d)
	default:
		err = fmt.Errorf("no such command in the program: %s", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{name: out})
}
`;

export function goDriver(): Driver {
  let dir = '';
  let program = '';
  return {
    name: 'the Go SDK',
    async prepare() {
      if (!existsSync(sdkSource)) return `${sdkSource} is missing (Debian package golang-github-xanzy-go-cloudstack-dev)`;
      try {
        await run('go', ['version'], { timeout: 30_000 });
      } catch {
        return 'the go command is not installed, so the Go SDK program cannot be built';
      }
      dir = await mkdtemp(join(tmpdir(), 'kumulus-gosdk-life-'));
      await writeFile(join(dir, 'go.mod'), goMod);
      await writeFile(join(dir, 'main.go'), goProgram);
      program = join(dir, 'lifecycle');
      await run('nice', ['-n', '10', 'go', 'build', '-o', program, '.'], { cwd: dir, timeout: 840_000, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOWORK: 'off' } });
      return undefined;
    },
    async call(endpoint, keys, command, params) {
      const args = [command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
      const { stdout } = await run(program, args, { env: { PATH: process.env['PATH'], CS_ENDPOINT: endpoint, CS_KEY: keys.apiKey, CS_SECRET: keys.secretKey }, timeout: 630_000 }).catch((err: unknown) => {
        throw new Error(`Go SDK ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
      });
      const answer = JSON.parse(stdout) as Row;
      // The SDK's list struct: Count and the rows.
      const list = answer['list'] as { Count?: number; VirtualMachines?: Row[] } | undefined;
      return list ? (list.Count ? { count: list.Count, virtualmachine: list.VirtualMachines } : {}) : answer;
    },
    async cleanup() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
