// The reserved tokens of a model's character vocabulary (`<pad>`, `</s>`; the session's
// `reserved_tokens`, from the server): one step each when typed whole in the text, or
// added at the end of the text with a button, so they can be chosen from a list.

import * as store from "../state/store.js";

const $ = (sel) => document.querySelector(sel);

export function createReservedTokens() {
  const box = $("#reserved-tokens");
  const buttons = $("#reserved-token-buttons");
  let listed = "";
  buttons.addEventListener("click", (ev) => {
    const token = ev.target.closest("button[data-token]")?.dataset.token;
    const draft = store.get().draft;
    if (token === undefined || !draft) return;
    store.set({ draft: { ...draft, text: `${draft.text ?? ""}${token}` } });
    $("#sequence-text")?.focus();
  });

  function update(state) {
    const tokens = state.session?.record?.reserved_tokens ?? [];
    box.hidden = !tokens.length || state.draft?.seq !== "text";
    const key = JSON.stringify(tokens);
    if (key === listed) return;
    listed = key;
    buttons.replaceChildren(...tokens.map((token) => {
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: token });
      b.dataset.token = token;
      b.setAttribute("aria-label", `Add ${token}`);
      return b;
    }));
  }

  return { keys: ["session", "draft"], update };
}
