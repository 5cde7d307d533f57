import { createMemoryRegistry } from '../../src/adapters/registry/memory.js';
import { describeRegistryContract } from '../contract/registry.contract.js';

describeRegistryContract('memory', async () => ({ store: createMemoryRegistry(), cleanup: async () => {} }));
