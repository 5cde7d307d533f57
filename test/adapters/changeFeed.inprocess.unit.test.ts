import { createInProcessChangeFeed } from '../../src/adapters/changeFeed/inProcess.js';
import { describeChangeFeedContract } from '../contract/changeFeed.contract.js';

describeChangeFeedContract('in-process', async () => ({ feed: createInProcessChangeFeed(), cleanup: async () => {} }));
