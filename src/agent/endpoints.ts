/**
 * Which endpoints of a Service kube-proxy sends traffic to, from the EndpointSlice conditions (pure): the
 * ready ones; when none is ready, the ones still serving while terminating (so connections drain during a
 * rolling update instead of failing). Applied separately to the cluster-wide and the node-local sets, as
 * kube-proxy's CategorizeEndpoints does for each traffic policy. Unset conditions: `ready` and `serving` true,
 * `terminating` false (the API's meaning of an absent condition).
 */
export interface EndpointState {
  readonly conditions?: {
    readonly ready?: boolean;
    readonly serving?: boolean;
    readonly terminating?: boolean;
  };
}

export function usableEndpoints<T extends EndpointState>(all: readonly T[]): T[] {
  const ready = all.filter((e) => e.conditions?.ready ?? true);
  if (ready.length) return ready;
  return all.filter(
    (e) => (e.conditions?.serving ?? e.conditions?.ready ?? true) && (e.conditions?.terminating ?? false),
  );
}
