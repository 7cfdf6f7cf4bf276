import { render } from "preact";
import { access } from "./actions.js";
import { App } from "./app.js";
import { LiveStore, connect } from "./store.js";
import "./styles.css";

const store = new LiveStore();
// Exposed for the e2e tests and the benchmark (read-only use).
(window as unknown as { stewardStore: LiveStore }).stewardStore = store;
const root = document.getElementById("app");
if (root) render(<App store={store} onSignedIn={() => connect(store)} />, root);
// Where reads need the token (api.uiReads: token) and this tab has no session yet, the page asks for it first.
void access().then((a) => (a.session ? connect(store) : store.setLink("signed-out")));
