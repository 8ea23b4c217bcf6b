/**
 * What a Volume's disk needs, from what the agent observed of it (volumes.ts observes and
 * applies; this is the pure middle, as drivers/network/plan.ts is for networks). A disk that
 * is as its Volume asks gets no step at all, so a re-queue for an unrelated change (a pool's
 * usage, a template's status) touches nothing.
 */

export type DiskStep =
  /** Make the disk (a template overlay or a blank image) at its requested size. */
  | { do: 'create' }
  /** Grow the image file; no domain has it open. */
  | { do: 'grow'; sizeBytes: number }
  /** Grow it through the hypervisor: a running domain has it open. */
  | { do: 'grow-live'; sizeBytes: number; domainUid: string };

export interface DiskFacts {
  volumeName: string;
  /** spec.size (or the disk offering's): undefined keeps a root disk at its template's size. */
  wantedBytes?: number;
  /** The disk as it is on the pool, if it exists. */
  observed?: { virtualSizeBytes: number };
  /** A running or paused domain on this host that has the disk open. */
  runningUser?: { uid: string };
}

export type DiskPlan = { steps: DiskStep[] } | { problem: string };

export function planDisk(facts: DiskFacts): DiskPlan {
  const { observed, wantedBytes } = facts;
  if (!observed) return { steps: [{ do: 'create' }] };
  if (wantedBytes === undefined || wantedBytes === observed.virtualSizeBytes) return { steps: [] };
  if (wantedBytes < observed.virtualSizeBytes) {
    return { problem: `Volume ${facts.volumeName} spec.size: ${wantedBytes} bytes is smaller than its disk (${observed.virtualSizeBytes} bytes); volumes only grow, so ask for at least that` };
  }
  return { steps: [facts.runningUser ? { do: 'grow-live', sizeBytes: wantedBytes, domainUid: facts.runningUser.uid } : { do: 'grow', sizeBytes: wantedBytes }] };
}
