import type { AppendSignal } from '../../ports/appendSignal.js';

/** Embedded profile: gateway and relay share the process. */
export function createInProcessAppendSignal(): AppendSignal {
  const listeners = new Set<() => void>();
  return {
    notify() {
      for (const l of listeners) l();
    },
    async listen(listener) {
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
      };
    },
  };
}
