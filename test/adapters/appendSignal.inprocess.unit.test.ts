import { createInProcessAppendSignal } from '../../src/adapters/appendSignal/inProcess.js';
import { describeAppendSignalContract } from '../contract/appendSignal.contract.js';

describeAppendSignalContract('in-process', async () => {
  const signal = createInProcessAppendSignal();
  return { sender: signal, receiver: signal, cleanup: async () => {} };
});
