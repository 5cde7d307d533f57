import type { AppendSignal } from '../../ports/appendSignal.js';
import type { WrittenEntry } from '../../ports/eventStore.js';

/** Embedded profile: gateway and relay share the process, so an entry is handed over as is. */
export function createInProcessAppendSignal(): AppendSignal {
  const listeners = new Set<(entry?: WrittenEntry) => void>();
  return {
    notify(entry) {
      for (const l of listeners) l(entry);
    },
    async listen(listener) {
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
      };
    },
  };
}
