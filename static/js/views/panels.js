// The small views of the page that have no module of their own: the notices, the error
// slots outside the form, the sensitivity controls, the input readout, the announcer and
// the connection status. Each is {keys, update(state)} (main.js runs them).

import { announce } from "./announce.js";
import { partShown } from "./form.js";
import { showInput } from "./sequence_view.js";

const $ = (sel) => document.querySelector(sel);
const CONNECTION_TEXT = { open: "live", connecting: "connecting…", reconnecting: "reconnecting…", closed: "closed", idle: "" };

export function createPanels(settings) {
  return [
    { keys: ["session", "upload"], update: (st) => {
      $("#view-notice").textContent = partShown(st.session?.weights?.weights_id ? st.session.weights : null);
    } },
    // the form fills its own error slots; the others (compare, what if) are filled here
    { keys: ["errors"], update: (st) => {
      for (const slot of document.querySelectorAll("[data-error-for]")) {
        if (!slot.closest("#setup")) slot.textContent = st.errors[slot.dataset.errorFor] ?? "";
      }
    } },
    { keys: ["sens_of", "sens_pipes", "session"], update: (st) => {
      const hasC = st.session?.signals.some((x) => x.name === "c");
      $("#sens-of").querySelector('option[value="c"]').disabled = !hasC;
      $("#sens-of").value = hasC ? st.sens_of : "h";
      $("#sens-pipes").checked = st.sens_pipes;
    } },
    { keys: null, update: (st) => showInput($("#input-readout"), st) },
    { keys: null, update: (st) => {
      if (st.session) announce($("#announce"), st, settings.kindOf(st.session.cell)?.state ?? ["h"]);
    } },
    { keys: ["connection"], update: (st) => {
      const conn = $("#connection");
      conn.dataset.state = st.connection;
      conn.textContent = CONNECTION_TEXT[st.connection];
    } },
  ];
}
