import type { Clock } from "./clock.js";
import type { World } from "./world.js";

/** What every sim product is built with: one clock, one world, one random source. */
export interface SimContext {
  clock: Clock;
  world: World;
  /** Seeded in tests, so runs repeat. */
  random: () => number;
}
