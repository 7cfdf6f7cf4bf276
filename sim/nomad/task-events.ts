import type { JsonObject, TaskEvent } from "./types.js";

/**
 * A task event with every field a Nomad client sends (structs.TaskEvent),
 * so clients that read `ExitCode` or `DriverError` find them.
 */
export function taskEvent(timeNs: number, type: string, display: string, extra: JsonObject = {}): TaskEvent {
  return {
    Type: type,
    Time: timeNs,
    Message: typeof extra.Message === "string" ? extra.Message : "",
    DisplayMessage: display,
    Details: {},
    FailsTask: false,
    RestartReason: "",
    SetupError: "",
    DriverError: "",
    ExitCode: 0,
    Signal: 0,
    KillTimeout: 0,
    KillError: "",
    KillReason: "",
    StartDelay: 0,
    DownloadError: "",
    ValidationError: "",
    DiskLimit: 0,
    FailedSibling: "",
    VaultError: "",
    TaskSignalReason: "",
    TaskSignal: "",
    DriverMessage: "",
    GenericSource: "",
    ...extra,
  };
}
