// Parley's web page: sign-in, then the chat (js/view.js) over the chat client (js/client.js).
import { ChatClient } from "./js/client.js";
import { $ } from "./js/dom.js";
import { Files } from "./js/files.js";
import { fillIcons } from "./js/icons.js";
import * as session from "./js/session.js";
import { ChatView } from "./js/view.js";

let current = null; // { client, view, files }

function showSignin(error = "") {
  $("chat").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error;
  document.body.classList.remove("in-conversation");
  document.title = "Parley";
  session.devLoginEnabled().then((on) => {
    $("dev-login-form").hidden = !on;
    $("signin-divider").hidden = !on;
    (on ? $("dev-name") : $("token-input")).focus();
  });
}

function start(s) {
  session.save(s);
  $("signin").hidden = true;
  $("chat").hidden = false;
  const files = new Files(() => s.token);
  const client = new ChatClient(s, files, session.userStore(s.userId));
  const view = new ChatView(client, files, { onSignOut: () => stop() });
  client.addEventListener("fatal", (e) => stop(`Signed out: ${e.detail}`));
  current = { client, view, files };
  view.show();
  client.connect();
}

function stop(error = "") {
  if (current) {
    current.client.close();
    current.view.destroy();
    current.files.clear();
    current = null;
  }
  session.clear();
  showSignin(error);
}

function bindSignin() {
  $("dev-login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = e.target.querySelector("button");
    button.disabled = true;
    try {
      start(await session.devLogin($("dev-name").value.trim()));
    } catch (err) {
      $("signin-error").textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const s = session.decode($("token-input").value);
    if (!s) return ($("signin-error").textContent = "That is not a JWT with a userId or sub claim.");
    if (session.expired(s)) return ($("signin-error").textContent = "That token has expired.");
    $("token-input").value = "";
    start(s);
  });
}

fillIcons();
bindSignin();
const saved = session.load();
if (saved) start(saved);
else showSignin();
