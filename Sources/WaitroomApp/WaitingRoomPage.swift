import Foundation
import Inventory

/// The waiting-room page `/e/{eventId}`: plain HTML and JavaScript, no build step.
///
/// It joins the queue (one place per browser: a random user id kept in `localStorage`), follows
/// the position over `EventSource` (resuming with `Last-Event-ID` on reconnects, which the
/// browser does by itself), falls back to polling when streams fail, and shows position, ETA,
/// paused and sold out. On admission it switches to the checkout view: choose tickets, reserve
/// (a hold with a countdown, seats for assigned seating), pay or release; with the admission
/// token as the bearer and an Idempotency-Key per attempt, kept across reloads.
enum WaitingRoomPage {
    static func render(event: EventDefinition, ticketsPerAdmission: Int = 8) -> String {
        let limit = ticketsPerAdmission > 0 ? ticketsPerAdmission : 20
        let classes = event.ticketClasses.map { c in
            """
            <li data-class="\(escape(c.id))"><label>\(escape(c.name)) · \(price(c.priceCents))\(c.seating == nil ? "" : " · assigned seats")
                    <input type="number" class="qty" id="qty-\(escape(c.id))" data-class="\(escape(c.id))" min="0" max="\(limit)" value="0"></label></li>
            """
        }.joined(separator: "\n          ")
        let opens = event.opensAt.map { RFC3339.string($0) } ?? ""
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(event.name)) · Waitroom</title>
        <style>
          :root { color-scheme: light; }
          body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 36rem; margin: 2.5rem auto;
                 padding: 0 1rem; color: #1d2430; background: #f7f8fa; }
          h1 { font-size: 1.5rem; margin-bottom: .25rem; }
          .sub { color: #5b6675; margin-top: 0; }
          .card { background: #fff; border: 1px solid #d8dee8; border-radius: 14px; padding: 1.4rem 1.6rem; margin: 1.2rem 0; }
          .big { font-size: 3rem; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
          .muted { color: #5b6675; }
          .banner { border-radius: 10px; padding: .8rem 1rem; margin: 1rem 0; font-weight: 600; }
          .banner.paused { background: #fff6e0; border: 1px solid #f0c36d; }
          .banner.soldout { background: #fde8e8; border: 1px solid #e89a9a; }
          .banner.error { background: #eef1f6; border: 1px solid #c8d0dc; }
          .ok { background: #e6f6ec; border: 1px solid #8fcea6; }
          [hidden] { display: none !important; }
          ul { padding-left: 1.2rem; }
          .classes { list-style: none; padding: 0; }
          .classes li { display: flex; justify-content: space-between; margin: .5rem 0; }
          .classes label { display: flex; justify-content: space-between; width: 100%; gap: 1rem; }
          .qty { width: 4rem; font-size: 1rem; }
          button { font-size: 1rem; padding: .55rem 1.1rem; border-radius: 9px; border: 1px solid #2f6f4e;
                   background: #2f7d55; color: #fff; cursor: pointer; margin-right: .5rem; }
          button.secondary { background: #fff; color: #2f6f4e; }
          button:disabled { opacity: .5; cursor: default; }
          .error { color: #a32626; font-weight: 600; }
        </style>
        </head>
        <body>
        <main id="app" data-event-id="\(escape(event.id))" data-opens-at="\(opens)">
          <h1>\(escape(event.name))</h1>
          <p class="sub">You are in the waiting room. Keep this page open: your place is kept for you.</p>

          <div id="banner" class="banner" role="status" aria-live="polite" hidden></div>

          <section id="waiting" class="card" aria-live="polite">
            <div class="muted" id="state-label">Joining the queue…</div>
            <div class="big" id="position">–</div>
            <div class="muted">people ahead of you, including you</div>
            <p id="eta" class="muted"></p>
          </section>

          <section id="checkout" class="card ok" hidden>
            <h2>It's your turn</h2>
            <p>You have been admitted. Your session is valid until <strong id="admission-expiry">–</strong>.</p>
            <form id="choose" data-limit="\(limit)">
              <p class="muted">Choose your tickets (at most \(limit)):</p>
              <ul class="classes">
          \(classes)
              </ul>
              <button type="submit" id="reserve">Reserve</button>
            </form>
            <div id="hold" hidden>
              <p><strong>Your tickets are held</strong> for <strong id="hold-left">–</strong>.</p>
              <ul id="hold-items"></ul>
              <label class="muted">Payment (simulated): <select id="simulate">
                <option value="approve">approve</option><option value="decline">decline</option><option value="timeout">timeout</option>
              </select></label>
              <p><button type="button" id="pay">Pay</button><button type="button" id="release" class="secondary">Release</button></p>
            </div>
            <div id="order" hidden>
              <p><strong>Order placed.</strong> Order <code id="order-id">–</code> is <span id="order-status">–</span>.</p>
              <ul id="order-tickets"></ul>
            </div>
            <p id="checkout-error" class="error" role="alert" hidden></p>
          </section>
        </main>
        <script>
        \(script)
        </script>
        </body>
        </html>
        """
    }

    /// The page logic. Written for the contract in shared/API.md; no framework, no build step.
    static let script = #"""
        (function () {
          "use strict";
          var app = document.getElementById("app");
          var eventId = app.dataset.eventId;
          var base = "/v1/events/" + encodeURIComponent(eventId) + "/queue";
          var store = window.localStorage;
          var keyTicket = "waitroom:" + eventId + ":ticket";
          var keyUser = "waitroom:" + eventId + ":user";
          var keyAdmission = "waitroom:" + eventId + ":admission";
          var $ = function (id) { return document.getElementById(id); };
          var source = null, pollTimer = null, streamFailures = 0, finished = false;

          function banner(kind, text) {
            var b = $("banner");
            if (!kind) { b.hidden = true; b.textContent = ""; b.className = "banner"; return; }
            b.className = "banner " + kind; b.textContent = text; b.hidden = false;
          }

          function formatEta(seconds) {
            if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
            if (seconds < 60) return "Estimated wait: less than a minute";
            var minutes = Math.round(seconds / 60);
            if (minutes < 60) return "Estimated wait: about " + minutes + " minute" + (minutes === 1 ? "" : "s");
            var hours = Math.floor(minutes / 60), rest = minutes % 60;
            return "Estimated wait: about " + hours + " h " + rest + " min";
          }

          function showPosition(position, eta) {
            if (typeof position !== "number" && app.dataset.opensAt) {
              // Pre-queue: places are drawn by lottery when the sale opens.
              $("state-label").textContent = "You are in the pre-queue";
              $("position").textContent = "–";
              $("eta").textContent = "The sale opens at " + new Date(app.dataset.opensAt).toLocaleString() +
                "; everyone in the pre-queue then gets a random place, ahead of later arrivals.";
              return;
            }
            $("state-label").textContent = "Your place in line";
            $("position").textContent = (typeof position === "number") ? position.toLocaleString("en-US") : "–";
            $("eta").textContent = formatEta(eta);
          }

          function stop() {
            finished = true;
            if (source) { source.close(); source = null; }
            if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
          }

          function admitted(admission) {
            stop();
            store.setItem(keyAdmission, JSON.stringify(admission));
            banner(null);
            $("waiting").hidden = true;
            $("checkout").hidden = false;
            $("admission-expiry").textContent = admission.expiresAt
              ? new Date(admission.expiresAt).toLocaleTimeString() : "–";
            checkout(admission);
          }

          // Checkout: reserve, then pay or release. Every call carries the admission token; the
          // reserve and pay attempts carry an Idempotency-Key kept until they succeed, so a retry
          // after a network error can never make a second hold or a second order.
          var keyReservation = "waitroom:" + eventId + ":reservation";
          var keyAttempt = "waitroom:" + eventId + ":attempt";
          var holdTimer = null;

          function newKey() {
            var bytes = new Uint8Array(16);
            (window.crypto || window.msCrypto).getRandomValues(bytes);
            return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
          }

          function showError(text) {
            var e = $("checkout-error");
            e.hidden = !text; e.textContent = text || "";
          }

          function call(admission, method, path, body, key) {
            var headers = { "Authorization": "Bearer " + admission.token };
            if (body) headers["Content-Type"] = "application/json";
            if (key) headers["Idempotency-Key"] = key;
            return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
              .then(function (r) {
                if (r.status === 204) return { status: 204 };
                return r.json().then(function (j) { return { status: r.status, body: j }; });
              });
          }

          function attemptKey(kind, request) {
            var saved = store.getItem(keyAttempt);
            if (saved) {
              var a = JSON.parse(saved);
              if (a.kind === kind && a.request === request) return a.key;
            }
            var key = newKey();
            store.setItem(keyAttempt, JSON.stringify({ kind: kind, request: request, key: key }));
            return key;
          }

          function showHold(admission, reservation) {
            store.setItem(keyReservation, JSON.stringify(reservation));
            $("choose").hidden = true;
            $("order").hidden = true;
            $("hold").hidden = false;
            var list = $("hold-items");
            list.textContent = "";
            (reservation.items || []).forEach(function (item) {
              var li = document.createElement("li");
              li.textContent = item.quantity + " × " + item.ticketClassId +
                (item.seats ? " (seats " + item.seats.join(", ") + ")" : "");
              list.appendChild(li);
            });
            if (holdTimer) clearInterval(holdTimer);
            var tick = function () {
              var left = Math.max(0, Math.round((new Date(reservation.expiresAt) - new Date()) / 1000));
              $("hold-left").textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
              if (left === 0) { clearInterval(holdTimer); holdEnded("Your hold expired; the tickets went back on sale."); }
            };
            tick();
            holdTimer = setInterval(tick, 1000);
          }

          function holdEnded(message) {
            if (holdTimer) clearInterval(holdTimer);
            store.removeItem(keyReservation);
            $("hold").hidden = true;
            $("choose").hidden = false;
            showError(message);
          }

          function showOrder(order, admission) {
            if (holdTimer) clearInterval(holdTimer);
            $("choose").hidden = true;
            $("hold").hidden = true;
            $("order").hidden = false;
            $("order-id").textContent = order.orderId;
            $("order-status").textContent = order.status;
            var list = $("order-tickets");
            list.textContent = "";
            (order.tickets || []).forEach(function (t) {
              var li = document.createElement("li");
              li.textContent = t.ticketClassId + (t.seat ? " seat " + t.seat : "") + ": " + t.code;
              list.appendChild(li);
            });
            if (order.status === "cancelled" || order.status === "refunded") {
              store.removeItem(keyReservation);
              showError(order.status === "refunded" ? "The payment came too late; it has been refunded."
                        : "The payment did not go through (" + (order.failureReason || "declined") + "); the tickets went back on sale.");
              $("choose").hidden = false;
              return;
            }
            // The order saga runs on the server: follow it until it ends.
            if (order.status !== "completed" && admission) {
              setTimeout(function () {
                call(admission, "GET", "/v1/orders/" + encodeURIComponent(order.orderId)).then(function (res) {
                  showOrder(res.status === 200 ? res.body : order, admission);
                }).catch(function () { showOrder(order, admission); });
              }, 500);
            }
          }

          function checkout(admission) {
            var saved = store.getItem(keyReservation);
            if (saved) {
              var r = JSON.parse(saved);
              call(admission, "GET", "/v1/reservations/" + encodeURIComponent(r.reservationId)).then(function (res) {
                if (res.status !== 200) return holdEnded(null);
                if (res.body.status === "held") return showHold(admission, res.body);
                if (res.body.status === "confirmed") return showOrder({ orderId: res.body.orderId, status: "pending" }, admission);
                holdEnded("Your hold " + res.body.status + "; the tickets went back on sale.");
              }).catch(function () { showError("Could not reach the server. Retrying…"); setTimeout(function () { checkout(admission); }, 3000); });
            }
            $("choose").onsubmit = function (e) {
              e.preventDefault();
              var items = [];
              Array.prototype.forEach.call(document.querySelectorAll(".qty"), function (input) {
                var n = parseInt(input.value, 10);
                if (n > 0) items.push({ ticketClassId: input.dataset.class, quantity: n });
              });
              if (!items.length) return showError("Choose at least one ticket.");
              var body = { items: items };
              $("reserve").disabled = true;
              showError(null);
              call(admission, "POST", "/v1/events/" + encodeURIComponent(eventId) + "/reservations", body,
                   attemptKey("reserve", JSON.stringify(body)))
                .then(function (res) {
                  if (res.status === 201) { store.removeItem(keyAttempt); return showHold(admission, res.body); }
                  if (res.body && res.body.error && res.body.error.code !== "idempotency_key_reused") store.removeItem(keyAttempt);
                  showError(res.body && res.body.error ? res.body.error.message : "Could not reserve (" + res.status + ").");
                })
                .catch(function () { showError("Could not reach the server; your choice is kept, try again."); })
                .then(function () { $("reserve").disabled = false; });
            };
            $("pay").onclick = function () {
              var r = JSON.parse(store.getItem(keyReservation));
              var body = { payment: { method: "card", simulate: $("simulate").value } };
              $("pay").disabled = true;
              showError(null);
              call(admission, "POST", "/v1/reservations/" + encodeURIComponent(r.reservationId) + "/confirm", body,
                   attemptKey("confirm", r.reservationId + JSON.stringify(body)))
                .then(function (res) {
                  if (res.status === 202) { store.removeItem(keyAttempt); return showOrder(res.body, admission); }
                  if (res.status === 409) { store.removeItem(keyAttempt); return holdEnded(res.body.error.message); }
                  showError(res.body && res.body.error ? res.body.error.message : "Could not pay (" + res.status + ").");
                })
                .catch(function () { showError("Could not reach the server; try again."); })
                .then(function () { $("pay").disabled = false; });
            };
            $("release").onclick = function () {
              var r = JSON.parse(store.getItem(keyReservation));
              call(admission, "DELETE", "/v1/reservations/" + encodeURIComponent(r.reservationId)).then(function (res) {
                if (res.status === 204) return holdEnded(null);
                showError(res.body && res.body.error ? res.body.error.message : "Could not release (" + res.status + ").");
              }).catch(function () { showError("Could not reach the server; try again."); });
            };
          }

          function soldOut() {
            stop();
            $("waiting").hidden = true;
            banner("soldout", "Sold out: every ticket has been sold. Thank you for waiting.");
          }

          function placeLost(state) {
            stop();
            store.removeItem(keyTicket);
            banner("error", state === "left" ? "You left the queue." : "Your place in the queue expired. Reload to join again.");
          }

          function apply(status) {
            if (status.state === "admitted" && status.admission) return admitted(status.admission);
            if (status.state === "sold_out") return soldOut();
            if (status.state === "expired" || status.state === "left") return placeLost(status.state);
            showPosition(status.position, status.etaSeconds);
          }

          function poll() {
            pollTimer = null;
            if (finished) return;
            fetch(base + "/" + encodeURIComponent(store.getItem(keyTicket)), { cache: "no-store" })
              .then(function (r) {
                if (r.status === 404) { placeLost("expired"); return null; }
                if (!r.ok) throw new Error("status " + r.status);
                return r.json();
              })
              .then(function (s) { if (s) apply(s); })
              .catch(function () { banner("error", "Reconnecting…"); })
              .then(function () { if (!finished) pollTimer = setTimeout(poll, 3000); });
          }

          function startPolling() {
            if (source) { source.close(); source = null; }
            app.dataset.transport = "polling";
            if (!pollTimer) poll();
          }

          function stream(ticket) {
            if (!window.EventSource) return startPolling();
            app.dataset.transport = "sse";
            source = new EventSource(base + "/" + encodeURIComponent(ticket) + "/stream");
            source.addEventListener("open", function () { streamFailures = 0; });
            source.addEventListener("position", function (e) {
              var d = JSON.parse(e.data);
              if ($("banner").classList.contains("error")) banner(null);
              showPosition(d.position, d.etaSeconds);
            });
            source.addEventListener("paused", function () {
              banner("paused", "Admission is paused for a moment. You keep your place.");
            });
            source.addEventListener("resumed", function () { banner(null); });
            source.addEventListener("admitted", function (e) { admitted(JSON.parse(e.data)); });
            source.addEventListener("sold_out", function () { soldOut(); });
            source.addEventListener("error", function () {
              if (finished) return;
              streamFailures += 1;
              // The browser reconnects by itself (with Last-Event-ID); after repeated failures,
              // or when the server refused the stream for good, fall back to polling.
              if (source.readyState === EventSource.CLOSED || streamFailures >= 3) startPolling();
            });
          }

          function join() {
            var user = store.getItem(keyUser);
            if (!user) {
              var bytes = new Uint8Array(16);
              window.crypto.getRandomValues(bytes);
              user = "u-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
              store.setItem(keyUser, user);
            }
            return fetch(base, {
              method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ userId: user })
            }).then(function (r) {
              if (r.status === 410) { soldOut(); return null; }
              if (r.status === 404) { banner("error", "This event does not exist."); finished = true; return null; }
              if (r.status === 429 || r.status === 503) {
                var wait = parseInt(r.headers.get("Retry-After") || "2", 10);
                banner("error", "Busy: trying again in " + wait + " s…");
                return new Promise(function (res) { setTimeout(res, wait * 1000); }).then(join);
              }
              if (!r.ok) throw new Error("join failed: " + r.status);
              return r.json();
            });
          }

          function start() {
            var admission = store.getItem(keyAdmission);
            if (admission) {
              var a = JSON.parse(admission);
              if (a.expiresAt && new Date(a.expiresAt) > new Date()) return admitted(a);
              store.removeItem(keyAdmission);
            }
            join().then(function (joined) {
              if (!joined) return;
              store.setItem(keyTicket, joined.ticket);
              apply(joined);
              if (!finished) stream(joined.ticket);
            }).catch(function () {
              banner("error", "Could not reach the waiting room. Retrying…");
              setTimeout(start, 3000);
            });
          }

          start();
        })();
        """#

    static func notFound(eventID: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Event not found · Waitroom</title></head>
        <body><h1>Event not found</h1><p>There is no event “\(escape(eventID))”.</p></body></html>
        """
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func price(_ cents: Int) -> String {
        let units = cents / 100, rest = cents % 100
        return "\(units).\(rest < 10 ? "0" : "")\(rest)"
    }
}
