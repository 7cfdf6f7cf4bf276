import { parserForTests } from "./sync-fixture.js";
import { promotionWorld, type PromotionFixture, type PromotionFixtureOptions } from "./promotion-world.js";

export { runningImage, versionImages, type PromotionFixture, type PromotionInstance } from "./promotion-world.js";

/** promotionWorld with the test process's shared jobspec helper (see promotion-world.ts). */
export async function promotionFixture(o: Omit<PromotionFixtureOptions, "parser"> = {}): Promise<PromotionFixture> {
  return promotionWorld({ ...o, parser: await parserForTests() });
}
