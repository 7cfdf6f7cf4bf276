import { render } from "preact";
import { App } from "./app.js";
import { LiveStore, connect } from "./store.js";
import "./styles.css";

const store = new LiveStore();
// Exposed for the e2e tests and the benchmark (read-only use).
(window as unknown as { stewardStore: LiveStore }).stewardStore = store;
connect(store);
const root = document.getElementById("app");
if (root) render(<App store={store} />, root);
