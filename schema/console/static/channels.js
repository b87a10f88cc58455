// Channels: each channel's settings and config as JSON. Saving sends a merge patch of the config (keys removed in
// the editor become null), so the stored config ends up exactly as edited; the server's `invalid_config` errors are
// listed with their paths and nothing is saved. Admins also see the change history (who, when, before, after).

import { el, gql, isAdmin, json, mutate, section, toast, when } from "./core.js";
import { CHANNEL_LIST, CHANNEL_PAGE, UPSERT_CHANNEL } from "./queries.js";

const SETTINGS = ["name", "pricingPolicy", "editPolicy", "currency", "displayOrder", "isActive"];

// RFC 7396: what turns `before` into `after`.
export function mergePatch(before, after) {
  if (typeof after !== "object" || after === null || Array.isArray(after) ||
      typeof before !== "object" || before === null || Array.isArray(before)) return after;
  const patch = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(value)) patch[key] = mergePatch(before[key], value);
  }
  return patch;
}

function changedKeys(before, after) {
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  return [...keys].filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]));
}

async function list(view) {
  const channels = (await gql(CHANNEL_LIST)).channels;
  view.replaceChildren(el("h1", {}, "Channels"), el("div", { class: "table-wrap" }, el("table", { class: "list" },
    el("thead", {}, el("tr", {}, ["Code", "Name", "Pricing", "Editing", "Currency", "Active"].map((h) => el("th", {}, h)))),
    el("tbody", {}, channels.map((c) => el("tr", { "data-channel": c.code },
      el("td", {}, el("a", { href: "#/channels/" + encodeURIComponent(c.code) }, c.code)), el("td", {}, c.name),
      el("td", {}, c.pricingPolicy.toLowerCase()), el("td", {}, c.editPolicy.toLowerCase()), el("td", {}, c.currency),
      el("td", {}, c.isActive ? "yes" : "no")))))));
}

async function page(view, code) {
  const data = (await gql(CHANNEL_PAGE, { code, history: isAdmin() })).channel;
  if (!data) { view.replaceChildren(el("h1", {}, code), el("p", { class: "error" }, "No such channel.")); return; }
  const settings = Object.fromEntries(SETTINGS.map((k) => [k, data[k]]));
  const settingsBox = el("textarea", { id: "channel-settings", rows: "9", spellcheck: "false",
                                       "aria-label": "Settings (JSON)" }, JSON.stringify(settings, null, 2));
  const configBox = el("textarea", { id: "channel-config", rows: "18", spellcheck: "false",
                                     "aria-label": "Config (JSON)" }, JSON.stringify(data.config, null, 2));
  const out = el("div", { id: "channel-errors", class: "messages" });

  async function save(event) {
    event.preventDefault();
    let edited, config;
    try { edited = JSON.parse(settingsBox.value); config = JSON.parse(configBox.value); } catch (error) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, "Not valid JSON: " + error.message));
      return;
    }
    const input = { code, config: mergePatch(data.config, config) };
    for (const key of SETTINGS) if (JSON.stringify(edited[key]) !== JSON.stringify(settings[key])) input[key] = edited[key];
    const res = await mutate(UPSERT_CHANNEL, { input }, "upsertChannel", out);
    if (!res.errors.length) { toast(`Channel ${code} saved.`); await page(view, code); }
  }

  view.replaceChildren(
    el("p", {}, el("a", { href: "#/channels" }, "← Channels")),
    el("h1", {}, `${data.name} `, el("code", {}, data.code)),
    el("form", { id: "channel-form", class: "editor", onsubmit: save },
      el("label", { for: "channel-settings" }, "Settings"), settingsBox,
      el("label", { for: "channel-config" }, "Config"), configBox,
      out,
      isAdmin() ? el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Save"))
        : el("p", { class: "muted" }, "Only admin tokens can change channels.")),
    isAdmin() ? section("History", data.history.length ? el("ol", { class: "history", id: "channel-history" },
      data.history.map((h) => el("li", {}, el("time", { datetime: h.at }, when(h.at)), " ", el("strong", {}, h.actor),
        " changed ", changedKeys(h.before, h.after).join(", ") || "nothing",
        el("details", {}, el("summary", {}, "Before / after"), el("div", { class: "pair" }, json(h.before), json(h.after))))))
      : el("p", { class: "muted" }, "No recorded changes.")) : null);
}

export async function render(view, parts) {
  return parts.length ? page(view, parts[0]) : list(view);
}
