/**
 * UserData: Ready once its payload is base64 (the schema checks that), and every placeholder it
 * declares is one the payload uses, so a VM deployed with it gets what its author meant.
 */
import { UserData, type UserDataObject } from '../crds/index.ts';
import { resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import type { ComputeContext } from './compute-context.ts';
import { registerKindReconciler } from './reconciler.ts';

/** The declared placeholders the payload never uses (`{{ name }}`). */
export function unusedParams(userData: UserDataObject): string[] {
  const text = Buffer.from(userData.spec.userData, 'base64').toString();
  return (userData.spec.params ?? []).filter((param) => !new RegExp(`\\{\\{\\s*${param.replace(/[.]/g, '\\.')}\\s*\\}\\}`).test(text));
}

export function registerUserDataController(manager: Manager, ctx: ComputeContext): void {
  registerKindReconciler<UserDataObject>(manager, ctx, {
    name: 'userdata',
    kind: UserData,
    informer: manager.informer<UserDataObject>(resourceTypeOf(UserData)),
    ownership: { fields: [], conditions: ['Ready'] },
    observe: (userData) => {
      const unused = unusedParams(userData);
      return unused.length === 0
        ? { state: 'Ready', conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }] }
        : { state: 'Error', conditions: [{ type: 'Ready', status: 'False', reason: 'UnusedParams', message: `spec.params names ${unused.join(', ')}, which the payload never uses as {{ name }}: remove them or use them` }] };
    },
    stateEvents: (from) => (from === undefined ? [{ reason: 'REGISTER.USER.DATA', note: 'user data registered' }] : []),
  });
}
