/**
 * LocalBus through the bus conformance kit. A LocalBus carries messages within one instance (one
 * process), so the kit's checks between two buses are skipped, saying so.
 */
import { LocalBus } from '../../src/live/bus.js';
import { busConformance } from '../../src/live/bus-conformance.js';

busConformance({ name: 'local', create: () => new LocalBus(), crossInstance: false });
