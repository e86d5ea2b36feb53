/* Staff accounts: admins add, (de)activate and set passwords; agents set their own. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";
import { initials } from "./format.js";
import { isAdmin, session } from "./session.js";
import { badge, errorBox, pageHeader } from "./ui.js";

const ROLE_NAMES = { agent: "Agent", editor: "Editor", admin: "Admin" };

// "Set password": an inline field that PATCHes the account's password. One's own needs the
// current password too (an open console is not enough); an admin resets another's without it.
function passwordSetter(account, after) {
  const own = session.staff && session.staff.id === account.id;
  const wrap = h("span", { class: "password-setter" });
  const note = h("span", { class: "small muted", role: "status" });
  const open = h("button", {
    type: "button", class: "btn btn-sm", "data-testid": "staff-set-password",
    "aria-label": `Set a new password for ${account.username}`,
    onclick: () => {
      const input = h("input", {
        type: "password", "data-testid": "staff-new-password", autocomplete: "new-password",
        "aria-label": `New password for ${account.username}`, placeholder: "new password",
      });
      const current = own ? h("input", {
        type: "password", "data-testid": "staff-current-password", autocomplete: "current-password",
        "aria-label": "Your current password", placeholder: "current password",
      }) : null;
      const save = h("button", {
        type: "submit", class: "btn btn-sm btn-primary", "data-testid": "staff-password-save",
      }, "Save");
      const cancel = h("button", { type: "button", class: "btn btn-sm", onclick: () => wrap.replaceChildren(open, note) }, "Cancel");
      const form = h("form", { class: "inline-form" }, current, input, save, cancel);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        save.disabled = true;
        try {
          const body = current ? { password: input.value, current_password: current.value } : { password: input.value };
          await api("PATCH", `/api/staff/accounts/${account.id}`, body);
          note.textContent = "Password set.";
          wrap.replaceChildren(open, note);
          if (after) await after();
        } catch (err) {
          if (err.status !== 401) { note.textContent = err.message; wrap.replaceChildren(form, note); }
          save.disabled = false;
        }
      });
      wrap.replaceChildren(form, note);
      (current || input).focus();
    },
  }, "Set password");
  wrap.append(open, note);
  return wrap;
}

export function staffView(main) {
  if (!isAdmin()) {
    // Agents may still change their own password.
    main.append(pageHeader("Staff", null), h("div", { class: "card empty" },
      h("h2", { text: "Admins only" }), h("p", { class: "muted", text: "Ask an admin to add or change accounts." }),
      passwordSetter(session.staff, null)));
    return { name: "staff" };
  }
  const errors = errorBox();
  const tbody = h("tbody");
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const formOk = h("p", { class: "form-ok", role: "status", hidden: true });
  const field = (label, input) => h("label", { class: "field" }, h("span", { text: label }), input);
  const username = h("input", { "data-testid": "staff-username", name: "username", required: true, autocomplete: "off", maxlength: "64" });
  const name = h("input", { "data-testid": "staff-name", name: "name", autocomplete: "off", maxlength: "200", placeholder: "shown to colleagues and customers" });
  const password = h("input", { "data-testid": "staff-password", name: "password", type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { "data-testid": "staff-role", name: "role" }, h("option", { value: "agent", text: "Agent" }), h("option", { value: "editor", text: "Editor" }), h("option", { value: "admin", text: "Admin" }));
  const create = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "staff-create" }, "Create account");
  const form = h("form", { class: "card staff-form", "aria-labelledby": "new-account" },
    h("h2", { id: "new-account", text: "New account" }),
    field("Username", username), field("Name", name), field("Password", password), field("Role", role),
    formError, formOk, create);

  main.append(pageHeader("Staff", "Who can sign in to the console."), errors,
    h("div", { class: "staff-layout" },
      h("div", { class: "card card-flush" }, h("table", { class: "table" },
        h("thead", null, h("tr", null, ["Name", "Username", "Role", "Status"].map((title) => h("th", { scope: "col", text: title })),
          h("th", { scope: "col" }, h("span", { class: "sr-only", text: "Actions" })))),
        tbody)),
      form));

  async function load() {
    try {
      const accounts = await api("GET", "/api/staff/accounts");
      errors.clear();
      tbody.replaceChildren(...accounts.map(row));
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    }
  }

  function row(a) {
    const self = a.id === session.staff.id;
    return h("tr", { "data-testid": "staff-row", dataset: { id: String(a.id), username: a.username, active: String(a.active) }, class: a.active ? "" : "is-inactive" },
      h("td", null, h("div", { class: "cust" }, h("span", { class: "avatar avatar-sm", "aria-hidden": "true", text: initials(a.name) }), h("span", { text: a.name }), self ? badge("you", "plain") : null)),
      h("td", null, h("code", { text: a.username })),
      h("td", null, badge(ROLE_NAMES[a.role] || a.role, a.role === "admin" ? "gold" : "tier")),
      h("td", null, h("span", { class: `status ${a.active ? "status-active" : "status-closed"}` }, h("span", { class: "dot", "aria-hidden": "true" }), a.active ? "active" : "inactive")),
      h("td", { class: "num" }, passwordSetter(a, null), self ? null : h("button", {
        type: "button", class: a.active ? "btn btn-sm btn-danger-ghost" : "btn btn-sm",
        "data-testid": "staff-toggle", "aria-label": `${a.active ? "Deactivate" : "Activate"} ${a.username}`,
        onclick: async (e) => {
          e.currentTarget.disabled = true;
          try {
            await api("PATCH", `/api/staff/accounts/${a.id}`, { active: !a.active });
            await load();
          } catch (err) {
            if (err.status !== 401) errors.show(err.message);
            e.target.disabled = false;
          }
        },
      }, a.active ? "Deactivate" : "Activate")));
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    formError.hidden = true;
    formOk.hidden = true;
    if (!username.value.trim() || !password.value) {
      formError.textContent = "Username and password are required.";
      formError.hidden = false;
      return;
    }
    create.disabled = true;
    try {
      const created = await api("POST", "/api/staff/accounts", {
        username: username.value.trim(), password: password.value,
        name: name.value.trim() || null, role: role.value,
      });
      form.reset();
      formOk.textContent = `Created ${created.username}.`;
      formOk.hidden = false;
      await load();
      username.focus();
    } catch (err) {
      if (err.status !== 401) { formError.textContent = err.message; formError.hidden = false; }
    } finally {
      create.disabled = false;
    }
  });

  load();
  return { name: "staff" };
}
