// A real client for the API tests: maps a command and its key=value parameters to the
// typed call of github.com/apache/cloudstack-go/v2 (its async client waits for each job) and
// prints the typed result as JSON under its object name. test/support/cloudstack-drivers.ts
// builds and runs it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/apache/cloudstack-go/v2/cloudstack"
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
	case "listApis":
		name = "list"
		out, err = cs.APIDiscovery.ListApis(cs.APIDiscovery.NewListApisParams())
	case "listCapabilities":
		var r *cloudstack.ListCapabilitiesResponse
		r, err = cs.Configuration.ListCapabilities(cs.Configuration.NewListCapabilitiesParams())
		name = "capability"
		if err == nil {
			out = r.Capabilities
		}
	case "listHypervisors":
		name = "list"
		out, err = cs.Hypervisor.ListHypervisors(cs.Hypervisor.NewListHypervisorsParams())
	case "listZones":
		z := cs.Zone.NewListZonesParams()
		if keyword, ok := p["keyword"]; ok {
			z.SetKeyword(keyword)
		}
		name = "list"
		out, err = cs.Zone.ListZones(z)
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
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{name: out})
}
