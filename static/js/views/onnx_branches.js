// The branch chooser of an uploaded ONNX model whose If nodes choose their branch by the
// model's inputs (one file for two sample rates; Ifs nested in branches): the upload's
// record lists each way through them (`branches`, with what each holds and the `branch`
// text that reads it) and says which one it was read by (`branch`). Choosing another
// uploads the same file again with that `branch` (views/form.js uploadChosen).

import * as store from "../state/store.js";

const $ = (sel) => document.querySelector(sel);

export function createBranchChooser({ onChoose }) {
  const box = $("#onnx-branches");
  const select = $("#onnx-branch");
  const shown = $("#onnx-branch-shown");
  let listed = "";
  select.addEventListener("change", () => {
    select.disabled = true;
    Promise.resolve(onChoose(select.value)).finally(() => {
      select.disabled = false;
    });
  });

  function update(state) {
    const d = state.draft;
    const up = state.upload;
    const branches = d?.weights === "upload" && up?.weights_id === d.weights_id ? up.branches : null;
    box.hidden = !branches?.length;
    if (!branches?.length) {
      listed = "";
      return;
    }
    const key = JSON.stringify(branches.map((b) => b.branch));
    if (key !== listed) {
      listed = key;
      select.replaceChildren(...branches.map((b) => Object.assign(document.createElement("option"), {
        value: b.branch, textContent: `${b.name}: ${b.summary}`,
      })));
    }
    select.value = up.branch;
    const chosen = branches.find((b) => b.branch === up.branch);
    shown.dataset.branch = up.branch ?? "";
    const how = Object.entries(chosen?.conditions ?? { [chosen?.node]: chosen?.condition })
      .map(([node, said]) => `If node “${node}” chooses ${said}`).join("; ");
    shown.textContent = chosen ? `Read by branch “${chosen.name}” (${chosen.summary}). ${how}.` : "";
  }

  return { keys: ["draft", "upload"], update };
}
