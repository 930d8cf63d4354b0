// payflow's dashboard: fills the page from the public API and keeps it live.
//
// Everything shown comes from /api/… with fetch, sent with the API key the person typed
// (sessionStorage, this tab only). Live views read /api/dashboard/changes, a server-sent
// events stream, with fetch too: EventSource cannot send an Authorization header.
// Text is always set with textContent, never parsed as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "payflow.apiKey";
  const SETTLED = new Set(["succeeded", "dead"]);
  const ENDPOINTS_REFRESH_MS = 3000;
  const HEALTH_HELP = {
    enabled: "Gets new events",
    disabled: "No success for too long: gets no new events until enabled",
    closed: "Deliveries are attempted as they come",
    open: "Too many failures in a row: deliveries wait for the cool-down, then one probe",
    "half-open": "A probe is being sent",
  };
  const $ = (selector, root = document) => root.querySelector(selector);

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---- talking to the API -------------------------------------------------------------

  /** An RFC 9457 problem (or a network failure dressed as one). */
  class Problem extends Error {
    constructor(status, body) {
      super(body.detail || body.title || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  const apiKey = () => sessionStorage.getItem(KEY_STORAGE) || "";

  function headers(extra = {}) {
    const all = { Accept: "application/json", ...extra };
    if (apiKey()) all.Authorization = `Bearer ${apiKey()}`;
    return all;
  }

  /** A fresh Idempotency-Key (crypto.getRandomValues works on plain http too). */
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "dash_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(method, path, { body, idempotent = false } = {}) {
    const extra = {};
    if (body !== undefined) extra["Content-Type"] = "application/json";
    if (idempotent) extra["Idempotency-Key"] = newKey();
    let response;
    try {
      response = await fetch(path, { method, headers: headers(extra), body });
    } catch (error) {
      throw new Problem(0, { title: "payflow cannot be reached", detail: String(error.message || error) });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const problem = new Problem(
        response.status,
        data && typeof data === "object" ? data : { title: response.statusText || "Error", detail: text },
      );
      if (response.status === 401) askForKey();
      throw problem;
    }
    return data;
  }

  const enc = encodeURIComponent;

  // ---- messages -----------------------------------------------------------------------

  function showProblem(error) {
    const box = $("#problem");
    const body = error instanceof Problem ? error.body : { title: "Something went wrong", detail: String(error) };
    const slug = typeof body.type === "string" ? body.type.split("/").pop() : "";
    const status = error instanceof Problem && error.status ? ` (${error.status}${slug ? ` ${slug}` : ""})` : "";
    // Each field's message, unless the detail already is the only one.
    const errors = (Array.isArray(body.errors) ? body.errors : []).filter(
      (e) => !(body.errors.length === 1 && String(body.detail || "").includes(e.message)),
    );
    box.replaceChildren(
      el("p", {}, el("strong", {}, `${body.title || "Error"}${status}`), body.detail ? ` ${body.detail}` : ""),
      // (replaceChildren would write a null as the text "null")
      ...(errors.length ? [el("ul", {}, errors.map((e) => el("li", {}, `${e.field}: ${e.message}`)))] : []),
      el("button", { type: "button", class: "link", onclick: hideProblem }, "Dismiss"),
    );
    box.hidden = false;
  }

  function hideProblem() {
    $("#problem").hidden = true;
  }

  /** Runs an action, showing any problem it raises as a message. */
  const guarded = (action) => (...args) => Promise.resolve(action(...args)).catch(showProblem);

  function setStatus(selector, ...content) {
    $(selector).replaceChildren(...content);
  }

  // ---- API key ------------------------------------------------------------------------

  let onKey = null;

  function askForKey() {
    $("#key-form").hidden = false;
    $("#api-key").focus();
  }

  function setupKey(start) {
    onKey = start;
    const form = $("#key-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
      form.hidden = true;
      hideProblem();
      $("#forget-key").hidden = false;
      if (onKey) onKey();
    });
    const forget = $("#forget-key");
    forget.hidden = !apiKey();
    forget.addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      location.reload();
    });
  }

  // ---- the change stream --------------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function parseMessage(block) {
    const message = { event: "message", data: "" };
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "event") message.event = value;
      else if (field === "data") message.data += value;
    }
    return message;
  }

  function setLive(text, on) {
    const live = $("#live");
    live.textContent = text;
    live.classList.toggle("on", on);
  }

  /** Follows the stream for ever: `onReady` on every (re)connection, `onOrder` per change. */
  async function listen(path, onReady, onOrder) {
    for (;;) {
      try {
        const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }) });
        if (response.status === 401) {
          setLive("Waiting for an API key", false);
          askForKey();
          return;
        }
        if (!response.ok) {
          const body = await response.json().catch(() => ({ title: response.statusText }));
          showProblem(new Problem(response.status, body));
          setLive("Not live", false);
          return;
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
            const message = parseMessage(block);
            if (message.event === "ready") {
              setLive("Live", true);
              await guarded(onReady)();
            } else if (message.event === "order") {
              guarded(onOrder)(JSON.parse(message.data));
            }
          }
        }
      } catch {
        // the connection dropped: reconnect below
      }
      setLive("Reconnecting…", false);
      await sleep(1000);
    }
  }

  /** A typed number as JSON: the digits as typed (never through a float), else a string
   *  so that payflow's validation explains what is wrong with it. */
  function typedNumber(text, signed = false) {
    const number = signed ? /^-?\d+(\.\d+)?$/ : /^\d+(\.\d+)?$/;
    return number.test(text) ? text : JSON.stringify(text);
  }

  // ---- rendering helpers --------------------------------------------------------------

  function money(amount, currency) {
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
    } catch {
      return `${amount} ${currency}`;
    }
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return el("time", { datetime: iso, title: iso }, date.toLocaleString());
  }

  function statusBadge(status) {
    return el("span", { class: `status status-${status}` }, status);
  }

  const orderLink = (number) => el("a", { href: `/dashboard/orders/${enc(number)}` }, number);

  function deliveryBlock(delivery, onRedeliver) {
    const attempts = (delivery.log || []).map((attempt) =>
      el(
        "tr",
        {},
        el("td", {}, attempt.attempt),
        el("td", {}, when(attempt.at)),
        el("td", { class: attempt.statusCode >= 200 && attempt.statusCode < 300 ? "ok" : "bad" },
          attempt.statusCode === null ? "no response" : attempt.statusCode),
        el("td", {}, `${Math.round(attempt.latencyMs)} ms`),
        // The reply's first bytes; for no reply at all, why (refused, timed out, …).
        el("td", { class: "excerpt" }, el("code", {}, attempt.response || attempt.error || "")),
      ),
    );
    const canRedeliver = SETTLED.has(delivery.state);
    return el(
      "div",
      { class: "delivery", "data-delivery": delivery.id, "data-state": delivery.state },
      el(
        "p",
        { class: "delivery-head" },
        el("span", { class: `state state-${delivery.state}` }, delivery.state),
        ` ${delivery.eventType} to `,
        el("code", {}, delivery.url),
        ` · ${delivery.attempts} attempt${delivery.attempts === 1 ? "" : "s"}`,
        delivery.nextAttemptAt ? ` · next ${new Date(delivery.nextAttemptAt).toLocaleTimeString()}` : "",
        " ",
        el(
          "button",
          {
            type: "button",
            class: "small",
            disabled: !canRedeliver,
            "aria-label": `Redeliver ${delivery.eventType} to ${delivery.url}`,
            onclick: guarded(() => onRedeliver(delivery)),
          },
          "Redeliver",
        ),
      ),
      el(
        "div",
        { class: "scroll" },
        el(
          "table",
          { class: "attempts" },
          el("caption", { class: "sr-only" }, `Attempts of delivery ${delivery.id}`),
          el(
            "thead",
            {},
            el("tr", {}, ["#", "Time", "HTTP status", "Latency", "Response"].map((h) => el("th", { scope: "col" }, h))),
          ),
          el("tbody", {}, attempts),
        ),
      ),
    );
  }

  async function redeliver(delivery) {
    await api("POST", `/api/deliveries/${enc(delivery.id)}/redeliver`, { idempotent: true });
  }

  /** `load`, once for a burst of calls: several orders may change at once. */
  function batched(load, ms = 300) {
    let pending = null;
    return () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        guarded(load)();
      }, ms);
    };
  }

  /** Calls `load` again after a pause while `unsettled()` says something is still moving. */
  function refresher(load, unsettled, ms = 1500) {
    let timer = null;
    return () => {
      if (timer !== null || !unsettled()) return;
      timer = setTimeout(() => {
        timer = null;
        guarded(load)();
      }, ms);
    };
  }

  // ---- views --------------------------------------------------------------------------

  const views = {};

  views.orders = () => {
    const tbody = $("#orders tbody");
    const filter = $("#status-filter");
    const rows = new Map();

    function row(order) {
      const failure = order.failureCode ? el("span", { class: "failure" }, ` ${order.failureCode}`) : null;
      const tr = el(
        "tr",
        { "data-order-number": order.orderNumber, "data-updated-at": order.updatedAt, "data-status": order.status },
        el("th", { scope: "row" }, orderLink(order.orderNumber)),
        el("td", { class: "num" }, money(order.amount, order.currency)),
        el("td", {}, statusBadge(order.status), failure),
        el("td", { class: "optional" }, el("code", {}, order.paymentMethod)),
        el("td", { class: "optional" }, when(order.createdAt)),
      );
      rows.set(order.orderNumber, tr);
      return tr;
    }

    async function loadList() {
      const status = filter.value;
      const list = await api("GET", `/api/orders?limit=50${status ? `&status=${enc(status)}` : ""}`);
      rows.clear();
      tbody.replaceChildren(...list.map(row));
      $("#orders-empty").hidden = list.length > 0;
    }

    async function changed(change) {
      const known = rows.get(change.orderNumber);
      if (known && known.dataset.updatedAt === change.updatedAt) return;
      const order = await api("GET", `/api/orders/${enc(change.orderNumber)}`);
      const current = rows.get(order.orderNumber);
      if (filter.value && order.status !== filter.value) {
        if (current) current.remove();
        rows.delete(order.orderNumber);
        return;
      }
      const fresh = row(order);
      if (current) current.replaceWith(fresh);
      else tbody.prepend(fresh);
      $("#orders-empty").hidden = true;
    }

    filter.addEventListener("change", guarded(loadList));
    setupTrigger();
    listen("/api/dashboard/changes", loadList, changed);
  };

  function setupTrigger() {
    const form = $("#trigger");
    const fresh = () => `ORD-${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1296).toString(36).toUpperCase()}`;
    form.orderNumber.value = fresh();
    form.addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        // Amounts go out as the typed digits, never through a float; anything else is
        // sent as typed so that payflow's validation explains what is wrong with it.
        const amountText = form.amount.value.trim();
        const amount = typedNumber(amountText);
        const fields = [
          `"orderNumber":${JSON.stringify(form.orderNumber.value.trim())}`,
          `"amount":${amount}`,
          `"currency":${JSON.stringify(form.currency.value)}`,
          `"paymentMethod":${JSON.stringify(form.paymentMethod.value.trim())}`,
        ];
        if (form.captureMethod.value !== "automatic") fields.push(`"captureMethod":${JSON.stringify(form.captureMethod.value)}`);
        const delay = form.processingDelayMs.value.trim();
        if (delay) fields.push(`"processingDelayMs":${/^\d+$/.test(delay) ? delay : JSON.stringify(delay)}`);
        const order = await api("POST", "/api/orders", { body: `{${fields.join(",")}}`, idempotent: true });
        setStatus("#trigger-result", "Created ", orderLink(order.orderNumber), ` (${order.status}).`);
        form.orderNumber.value = fresh();
      }),
    );
  }

  views.order = () => {
    const number = document.body.dataset.order;
    const base = `/api/orders/${enc(number)}`;
    const cancel = $("#cancel");
    const refundButton = $("#refund-button");
    const captureButton = $("#capture-button");
    let unsettled = false;
    const again = refresher(() => load(), () => unsettled);

    function fields(order) {
      const rows = [
        ["Status", statusBadge(order.status)],
        ["Amount", money(order.amount, order.currency)],
        ["Refunded", money(order.amountRefunded ?? 0, order.currency)],
        // Two-step payments: shown once the order has them.
        ...(order.captureMethod === "manual" ? [["Capture", "manual"]] : []),
        ...(Number(order.amountCapturable) > 0 ? [["Capturable", money(order.amountCapturable, order.currency)]] : []),
        ...(Number(order.amountCaptured) > 0 ? [["Captured", money(order.amountCaptured, order.currency)]] : []),
        ...(order.cancellationReason ? [["Cancellation reason", order.cancellationReason]] : []),
        ["Payment method", el("code", {}, order.paymentMethod)],
        ["Failure code", order.failureCode ? el("span", { class: "failure" }, order.failureCode) : "—"],
        ["Failure message", order.failureMessage || "—"],
        ["Id", el("code", {}, order.id)],
        ["Created", when(order.createdAt)],
        ["Updated", when(order.updatedAt)],
        ["Paid", when(order.paidAt)],
        ["Canceled", when(order.canceledAt)],
        ["Metadata", el("code", {}, JSON.stringify(order.metadata || {}))],
      ];
      $("#fields").replaceChildren(
        ...rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", { "data-field": name }, value)]),
      );
    }

    async function load() {
      const order = await api("GET", base);
      fields(order);
      cancel.disabled = !["Pending", "Authorized"].includes(order.status);
      captureButton.disabled = order.status !== "Authorized";
      refundButton.disabled = !["Paid", "PartiallyRefunded"].includes(order.status);
      const [receipts, events] = await Promise.all([
        api("GET", `${base}/events`),
        api("GET", `/api/events?orderNumber=${enc(number)}&limit=100`),
      ]);
      const moments = [
        [order.createdAt, el("li", {}, when(order.createdAt), " order created (", el("code", {}, order.paymentMethod), ")")],
        ...receipts.map((r) => [
          r.receivedAt,
          el("li", {}, when(r.receivedAt), ` ${r.type || "webhook"} received: `, el("strong", {}, r.outcome),
            r.detail ? ` (${r.detail})` : ""),
        ]),
      ];
      if (order.canceledAt) moments.push([order.canceledAt, el("li", {}, when(order.canceledAt), " canceled",
        order.cancellationReason ? ` (${order.cancellationReason})` : "")]);
      moments.sort((a, b) => a[0].localeCompare(b[0]));
      $("#timeline").replaceChildren(...moments.map(([, item]) => item));
      const oldestFirst = [...events].reverse();
      const deliveries = await Promise.all(oldestFirst.map((e) => api("GET", `/api/events/${enc(e.id)}/deliveries`)));
      // Still moving: a delivery waiting for its next attempt, or a fresh event whose
      // deliveries the worker has not created yet.
      const fresh = (event) => Date.now() - Date.parse(event.createdAt) < 60_000;
      unsettled = deliveries.some(
        (list, i) => (list.length === 0 && fresh(oldestFirst[i])) || list.some((d) => !SETTLED.has(d.state)),
      );
      $("#order-events").replaceChildren(
        ...(oldestFirst.length ? [] : [el("p", { class: "muted" }, "No event sent yet.")]),
        ...oldestFirst.map((event, i) =>
          el(
            "article",
            { class: "event" },
            el("h3", {}, event.type, " ", el("code", { class: "muted" }, event.id), " ", when(event.createdAt)),
            deliveries[i].length
              ? deliveries[i].map((d) => deliveryBlock(d, afterRedeliver))
              : el("p", { class: "muted" }, "No delivery."),
          ),
        ),
      );
      again();
    }

    async function afterRedeliver(delivery) {
      await redeliver(delivery);
      setStatus("#action-result", `Delivery to ${delivery.url} queued again.`);
      await load();
    }

    cancel.addEventListener(
      "click",
      guarded(async () => {
        hideProblem();
        const order = await api("POST", `${base}/cancel`, { idempotent: true });
        setStatus("#action-result", `Order ${order.orderNumber} is ${order.status}.`);
        await load();
      }),
    );
    /** The optional amount of a capture or refund form, as JSON fields (see typedNumber). */
    function amountField(form) {
      const amountText = form.amount.value.trim();
      return amountText ? [`"amount":${typedNumber(amountText)}`] : [];
    }
    $("#capture").addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        const form = event.target;
        const order = await api("POST", `${base}/capture`, { body: `{${amountField(form).join(",")}}`, idempotent: true });
        setStatus("#action-result", `Captured ${money(order.amountCaptured, order.currency)}; order ${order.orderNumber} is ${order.status}.`);
        form.amount.value = "";
        await load();
      }),
    );
    $("#refund").addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        const form = event.target;
        const fieldsOut = amountField(form);
        if (form.reason.value) fieldsOut.push(`"reason":${JSON.stringify(form.reason.value)}`);
        const refund = await api("POST", `${base}/refunds`, { body: `{${fieldsOut.join(",")}}`, idempotent: true });
        setStatus("#action-result", `Refunded ${money(refund.amount, refund.currency)}.`);
        form.amount.value = "";
        await load();
      }),
    );
    // An order that is not there (or not this key's) is said once, without a stream.
    load().then(
      () => listen(`/api/dashboard/changes?orderNumber=${enc(number)}`, load, load),
      (problem) => {
        showProblem(problem);
        setLive("Not live", false);
      },
    );
  };

  views.events = () => {
    const type = $("#event-type");

    async function load() {
      const list = await api("GET", `/api/events?limit=50${type.value ? `&type=${enc(type.value)}` : ""}`);
      $("#events tbody").replaceChildren(
        ...list.map((e) =>
          el("tr", {}, el("th", { scope: "row" }, el("code", {}, e.id)), el("td", {}, e.type),
            el("td", {}, e.data && e.data.orderNumber ? orderLink(e.data.orderNumber) : "—"), el("td", {}, when(e.createdAt))),
        ),
      );
      $("#events-empty").hidden = list.length > 0;
    }

    const soon = batched(load);
    type.addEventListener("change", guarded(load));
    listen("/api/dashboard/changes", load, soon);
  };

  views.endpoints = () => {
    const list = $("#endpoints");
    let shown = null; // the endpoint whose deliveries are open
    let unsettled = false;
    const again = refresher(() => showDeliveries(shown), () => unsettled && shown !== null);

    const items = new Map(); // endpoint id → [what it was drawn from, its <li>]

    function item(endpoint) {
      const builtIn = endpoint.builtIn;
      return el(
        "li",
        {
          class: "endpoint",
          "data-endpoint": endpoint.id,
          "data-status": endpoint.status,
          "data-circuit": endpoint.circuit,
        },
        el("p", {}, el("code", {}, endpoint.url), builtIn ? el("span", { class: "tag" }, "built in") : null),
        el("p", { class: "muted" }, `${endpoint.id} · ${endpoint.scheme} · events ${endpoint.events.join(", ")}`,
          endpoint.description ? ` · ${endpoint.description}` : ""),
        health(endpoint),
        el(
          "div",
          { class: "actions" },
          el("button", { type: "button", class: "small", onclick: guarded(() => showDeliveries(endpoint)) }, "Deliveries"),
          endpoint.status === "disabled"
            ? el("button", {
                type: "button",
                class: "small enable",
                "aria-label": `Enable ${endpoint.url}`,
                onclick: guarded(() => enable(endpoint)),
              }, "Enable")
            : null,
          builtIn ? null : el("button", { type: "button", class: "small", onclick: guarded(() => rotate(endpoint)) }, "Rotate secret"),
          builtIn ? null : el("button", { type: "button", class: "small danger", onclick: guarded(() => remove(endpoint)) }, "Delete"),
        ),
      );
    }

    /** Status, circuit, failing since and chaos, as a labelled list a screen reader reads out. */
    function health(endpoint) {
      const rows = [
        ["Status", el("span", { class: `status health-${endpoint.status}`, title: HEALTH_HELP[endpoint.status] }, endpoint.status)],
        ["Circuit", el("span", { class: `status circuit-${endpoint.circuit}`, title: HEALTH_HELP[endpoint.circuit] }, endpoint.circuit)],
        ["Failing since", endpoint.failingSince ? when(endpoint.failingSince) : "not failing"],
      ];
      if (endpoint.chaos) {
        const { duplicateRate, reorderWindowMs } = endpoint.chaos;
        rows.push(["Chaos", `duplicates ${Math.round(duplicateRate * 1000) / 10}% · reorder window ${reorderWindowMs} ms`]);
      }
      return el(
        "dl",
        { class: "fields health", "aria-label": `Health of ${endpoint.url}` },
        rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", { "data-field": name }, value)]),
      );
    }

    /** Re-reads the list; an endpoint that did not change keeps its element (and focus). */
    async function load() {
      const endpoints = await api("GET", "/api/webhook-endpoints");
      const ids = endpoints.map((e) => e.id);
      const sameOrder = ids.length === list.children.length && ids.every((id, i) => list.children[i].dataset.endpoint === id);
      const fresh = endpoints.map((endpoint) => {
        const drawn = JSON.stringify(endpoint);
        const known = items.get(endpoint.id);
        if (known && known[0] === drawn) return known[1];
        const node = item(endpoint);
        if (known && sameOrder) known[1].replaceWith(node);
        items.set(endpoint.id, [drawn, node]);
        return node;
      });
      for (const id of [...items.keys()]) if (!ids.includes(id)) items.delete(id);
      if (!sameOrder) list.replaceChildren(...fresh);
    }

    async function enable(endpoint) {
      hideProblem();
      const enabled = await api("POST", `/api/webhook-endpoints/${enc(endpoint.id)}/enable`, { idempotent: true });
      setStatus("#endpoint-result", `${enabled.url} is ${enabled.status} again; its circuit is ${enabled.circuit}.`);
      await load();
    }

    function showSecret(endpoint, what) {
      setStatus("#secret", `${what} for ${endpoint.url} (shown once): `, el("code", { class: "secret-value" }, endpoint.secret));
    }

    async function rotate(endpoint) {
      hideProblem();
      const rotated = await api("POST", `/api/webhook-endpoints/${enc(endpoint.id)}/rotate-secret`, { idempotent: true });
      showSecret(rotated, "New signing secret");
    }

    async function remove(endpoint) {
      if (!window.confirm(`Delete the endpoint ${endpoint.url}?`)) return;
      hideProblem();
      await api("DELETE", `/api/webhook-endpoints/${enc(endpoint.id)}`);
      if (shown && shown.id === endpoint.id) {
        shown = null;
        $("#deliveries-section").hidden = true;
      }
      await load();
    }

    async function showDeliveries(endpoint) {
      if (!endpoint) return;
      shown = endpoint;
      const deliveries = await api("GET", `/api/webhook-endpoints/${enc(endpoint.id)}/deliveries?limit=50`);
      unsettled = deliveries.some((d) => !SETTLED.has(d.state));
      $("#deliveries-title").textContent = `Deliveries to ${endpoint.url}`;
      $("#deliveries").replaceChildren(
        ...(deliveries.length ? deliveries.map((d) => deliveryBlock(d, afterRedeliver)) : [el("p", { class: "muted" }, "No delivery yet.")]),
      );
      $("#deliveries-section").hidden = false;
      again();
    }

    async function afterRedeliver(delivery) {
      await redeliver(delivery);
      await showDeliveries(shown);
    }

    $("#new-endpoint").addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        const form = event.target;
        const body = {
          url: form.url.value.trim(),
          events: form.events.value.split(",").map((e) => e.trim()).filter(Boolean),
          scheme: form.scheme.value,
        };
        if (form.description.value.trim()) body.description = form.description.value.trim();
        // The numbers go out as typed (see typedNumber), so the body is put together as text.
        const chaos = [];
        const rate = form.duplicateRate.value.trim();
        const reorder = form.reorderWindowMs.value.trim();
        if (rate) chaos.push(`"duplicateRate":${typedNumber(rate)}`);
        if (reorder) chaos.push(`"reorderWindowMs":${typedNumber(reorder)}`);
        const json = JSON.stringify(body);
        const text = chaos.length ? `${json.slice(0, -1)},"chaos":{${chaos.join(",")}}}` : json;
        const created = await api("POST", "/api/webhook-endpoints", { body: text, idempotent: true });
        showSecret(created, "Signing secret");
        form.url.value = "";
        form.duplicateRate.value = "";
        form.reorderWindowMs.value = "";
        await load();
      }),
    );
    $("#refresh-endpoints").addEventListener("click", guarded(async () => {
      hideProblem();
      await load();
      if (shown) await showDeliveries(shown);
    }));
    // Health moves on its own (attempts, cool-downs, probes) and no stream carries it:
    // the list is read again every few seconds while the tab is visible (and not while
    // the page waits for an API key: each 401 would take the focus back to its field).
    setInterval(() => {
      if (document.visibilityState === "visible" && $("#key-form").hidden) guarded(load)();
    }, ENDPOINTS_REFRESH_MS);
    // Deliveries move on their own (retries): the open list refreshes while any is pending.
    const soon = batched(load);
    listen("/api/dashboard/changes", async () => {
      await load();
      if (shown) await showDeliveries(shown);
    }, () => {
      soon();
      if (shown) return showDeliveries(shown);
    });
  };

  views.customers = () => {
    const tbody = $("#customers tbody");
    let shown = null; // the customer whose ledger is open

    const balances = (customer, part) =>
      customer.balances.length
        ? customer.balances.map((b) => el("div", {}, money(b[part], b.currency)))
        : "—";

    async function load() {
      const list = await api("GET", "/api/customers?limit=50");
      tbody.replaceChildren(
        ...list.map((c) =>
          el(
            "tr",
            { "data-customer": c.id },
            el("th", { scope: "row" }, el("button", { type: "button", class: "link", onclick: guarded(() => showLedger(c.id)) },
              el("code", {}, c.id))),
            el("td", {}, c.name || "—"),
            el("td", { class: "optional" }, c.email || "—"),
            el("td", { class: "num available" }, balances(c, "available")),
            el("td", { class: "num reserved" }, balances(c, "reserved")),
            el("td", { class: "optional" }, when(c.createdAt)),
          ),
        ),
      );
      $("#customers-empty").hidden = list.length > 0;
      if (shown) await showLedger(shown);
    }

    async function showLedger(id) {
      shown = id;
      const [customer, entries] = await Promise.all([
        api("GET", `/api/customers/${enc(id)}`),
        api("GET", `/api/customers/${enc(id)}/balance-transactions?limit=50`),
      ]);
      $("#ledger-title").textContent = `Ledger of ${customer.name || customer.id}`;
      $("#ledger tbody").replaceChildren(
        ...entries.map((e) =>
          el(
            "tr",
            { "data-entry": e.id },
            el("th", { scope: "row" }, el("code", {}, e.id)),
            el("td", {}, e.type),
            el("td", { class: "num" }, money(e.amount, e.currency)),
            el("td", {}, e.orderNumber ? orderLink(e.orderNumber) : "—"),
            el("td", { class: "num" }, money(e.available, e.currency)),
            el("td", { class: "num" }, money(e.reserved, e.currency)),
            el("td", { class: "optional" }, when(e.createdAt)),
          ),
        ),
      );
      $("#ledger-empty").hidden = entries.length > 0;
      $("#ledger-section").hidden = false;
    }

    $("#new-customer").addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        const form = event.target;
        const fields = [];
        if (form.name.value.trim()) fields.push(`"name":${JSON.stringify(form.name.value.trim())}`);
        if (form.email.value.trim()) fields.push(`"email":${JSON.stringify(form.email.value.trim())}`);
        const amount = form.amount.value.trim();
        if (amount) fields.push(`"balances":{${JSON.stringify(form.currency.value.trim())}:${typedNumber(amount)}}`);
        const customer = await api("POST", "/api/customers", { body: `{${fields.join(",")}}`, idempotent: true });
        setStatus("#customer-result", "Created ", el("code", {}, customer.id), ".");
        form.reset();
        form.currency.value = "USD";
        shown = customer.id;
        await load();
      }),
    );
    $("#adjust").addEventListener(
      "submit",
      guarded(async (event) => {
        event.preventDefault();
        hideProblem();
        const form = event.target;
        const fields = [
          `"amount":${typedNumber(form.amount.value.trim(), true)}`,
          `"currency":${JSON.stringify(form.currency.value.trim())}`,
        ];
        if (form.description.value.trim()) fields.push(`"description":${JSON.stringify(form.description.value.trim())}`);
        const entry = await api("POST", `/api/customers/${enc(shown)}/balance-transactions`, {
          body: `{${fields.join(",")}}`,
          idempotent: true,
        });
        setStatus("#adjust-result", `Available now ${money(entry.available, entry.currency)}.`);
        form.amount.value = "";
        form.description.value = "";
        await load();
      }),
    );
    // Wallet-paid orders move balances: reload on the orders' changes.
    listen("/api/dashboard/changes", load, batched(load));
  };

  document.addEventListener("DOMContentLoaded", () => {
    const view = views[document.body.dataset.page];
    setupKey(() => location.reload());
    if (view) view();
  });
})();
