import { kindByName, type Condition, type KindInfo } from '../../crds/index.ts';
import { isNotFound, type KubeClient, type KubeObject, type ResourceClient, resourceTypeOf } from '../../lib/kube-client.ts';

export type { Condition };

/** Any Kumulus object as tests read it: spec and status loosely typed, status.state and conditions typed. */
export type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { state?: string; conditions?: Condition[] } };

/** The object's condition of this type, if it has one. */
export function condition(obj: Obj | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** The kind named `name` (such as `Zone`); a typo fails the test at once. */
export function kindNamed(name: string): KindInfo {
  const kind = kindByName(name);
  if (!kind) throw new Error(`unknown kind ${name}`);
  return kind;
}

/** The client of the kind named `kindName`. */
export function api(client: KubeClient, kindName: string): ResourceClient<Obj> {
  return client.resource<Obj>(resourceTypeOf(kindNamed(kindName)));
}

/** Polls the apiserver until `check` accepts the object; the error shows the last status seen. */
export async function waitFor(resource: ResourceClient<Obj>, name: string, what: string, check: (obj: Obj) => boolean, timeoutMs = 30_000, namespace?: string): Promise<Obj> {
  const deadline = Date.now() + timeoutMs;
  let last: Obj | undefined;
  for (;;) {
    last = await resource.get({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
    if (last && check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${resource.type.kind} ${name} ${what}; last seen: ${JSON.stringify(last?.status ?? 'absent', null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The HTTP status the apiserver answered `call` with: 200 when it succeeds, else the error's code. */
export async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}
