import { loadConfig } from "../config/load.js";
import { Daemon } from "../daemon.js";

/** `steward run`: the daemon, until SIGINT or SIGTERM; then it hands over leadership and exits 0. */
export async function runCommand(args: { config?: string | undefined }): Promise<number> {
  const config = await loadConfig(args.config);
  const daemon = new Daemon({ ...config, instanceId: config.instanceId ?? "steward" });
  await daemon.start();
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
  });
  daemon.logger.info("steward stopping: releasing leadership");
  await daemon.stop();
  return 0;
}
