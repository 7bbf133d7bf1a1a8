import Postgres

/// The versioned schema of the Inventory (and, as they land, Orders). Never edit an applied
/// migration: add a new one (the migrator refuses a changed checksum).
public enum InventoryMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "events and ticket classes", sql: """
            CREATE TABLE events (
                id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
                name            text NOT NULL,
                opens_at        timestamptz,
                rate_per_second double precision NOT NULL CHECK (rate_per_second > 0),
                max_active      integer NOT NULL CHECK (max_active > 0),
                session_seconds integer NOT NULL CHECK (session_seconds > 0),
                paused          boolean NOT NULL DEFAULT false,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE ticket_classes (
                event_id    text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
                id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
                name        text NOT NULL,
                price_cents bigint NOT NULL CHECK (price_cents >= 0),
                capacity    integer NOT NULL CHECK (capacity >= 0),
                held        integer NOT NULL DEFAULT 0,
                sold        integer NOT NULL DEFAULT 0,
                PRIMARY KEY (event_id, id),
                CONSTRAINT ticket_classes_stock CHECK (held >= 0 AND sold >= 0 AND held + sold <= capacity)
            );
            """),

        // Holds, their items and seats, the order requests that confirmation writes, and
        // idempotency keys; the batch function that reserves, releases and confirms under the
        // class-row locks in one round trip, and the expiry function of the sweeper.
        Migration(version: 2, name: "reservations, seats, orders, idempotency keys", sql: """
            ALTER TABLE ticket_classes ADD COLUMN seated boolean NOT NULL DEFAULT false;

            -- Assigned seating: a seated class is a set of seats; its capacity is their number.
            CREATE TABLE seats (
                event_id        text NOT NULL,
                ticket_class_id text NOT NULL,
                id              text NOT NULL,
                seat_order      integer NOT NULL,
                state           text NOT NULL DEFAULT 'free' CHECK (state IN ('free', 'held', 'sold')),
                PRIMARY KEY (event_id, ticket_class_id, id),
                FOREIGN KEY (event_id, ticket_class_id) REFERENCES ticket_classes (event_id, id) ON DELETE CASCADE
            );
            CREATE INDEX seats_free ON seats (event_id, ticket_class_id, seat_order) WHERE state = 'free';

            -- A hold. `holder` is the admission it was made under (the place's order in the queue);
            -- `class_ids` (sorted) is its lock set: every change to it locks those class rows first.
            -- No foreign key to events or ticket_classes on the hot tables: `inventory_apply` only
            -- writes lines of the class rows it holds locked, and a key check per row would cost
            -- a lookup and a row lock on the hottest path.
            CREATE TABLE reservations (
                id         text PRIMARY KEY,
                event_id   text NOT NULL,
                holder     bigint NOT NULL,
                class_ids  text[] NOT NULL,
                status     text NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
                expires_at timestamptz NOT NULL,
                order_id   text UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'held';
            -- Live reservations per admission (the ticket limit reads them once per batch); released
            -- and expired ones stay out of it, however many an admission has made.
            CREATE INDEX reservations_live_holder ON reservations (event_id, holder) WHERE status IN ('held', 'confirmed');

            CREATE TABLE reservation_items (
                reservation_id  text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
                event_id        text NOT NULL,
                ticket_class_id text NOT NULL,
                quantity        integer NOT NULL CHECK (quantity > 0),
                price_cents     bigint NOT NULL CHECK (price_cents >= 0),
                PRIMARY KEY (reservation_id, ticket_class_id)
            );

            -- Which seats a reservation has. A seat is in at most one live (held or sold) reservation:
            -- the partial unique index makes a double hold impossible, not merely unlikely.
            CREATE TABLE reservation_seats (
                reservation_id  text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
                event_id        text NOT NULL,
                ticket_class_id text NOT NULL,
                seat_id         text NOT NULL,
                live            boolean NOT NULL DEFAULT true,
                PRIMARY KEY (reservation_id, ticket_class_id, seat_id),
                FOREIGN KEY (event_id, ticket_class_id, seat_id) REFERENCES seats (event_id, ticket_class_id, id)
            );
            CREATE UNIQUE INDEX reservation_seats_one_live ON reservation_seats (event_id, ticket_class_id, seat_id) WHERE live;

            -- The request the order saga picks up, written in the confirming transaction.
            CREATE TABLE orders (
                id             text PRIMARY KEY,
                reservation_id text NOT NULL UNIQUE REFERENCES reservations (id),
                event_id       text NOT NULL,
                holder         bigint NOT NULL,
                status         text NOT NULL DEFAULT 'pending',
                amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
                payment_method text NOT NULL,
                simulate       text,
                created_at     timestamptz NOT NULL DEFAULT now(),
                updated_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX orders_status ON orders (status, created_at);

            -- Idempotency keys, per admission, stored in the transaction of their effect.
            CREATE TABLE idempotency_keys (
                event_id     text NOT NULL,
                holder       bigint NOT NULL,
                key          text NOT NULL,
                request_hash text NOT NULL,
                status_code  integer NOT NULL,
                response     jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (event_id, holder, key)
            );
            CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

            CREATE FUNCTION inventory_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
            $f$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $f$;

            -- Takes `p_count` free seats of a class, row by row from a random start (wrapping
            -- around), skipping seats another transaction has locked; marks them held. The caller
            -- records them in `reservation_seats`.
            CREATE FUNCTION inventory_take_seats(p_event text, p_class text, p_count integer)
            RETURNS text[] LANGUAGE plpgsql AS $f$
            DECLARE
                v_last  integer;
                v_start integer;
                v_taken text[];
                v_more  text[];
            BEGIN
                SELECT max(seat_order) INTO v_last FROM seats WHERE event_id = p_event AND ticket_class_id = p_class;
                v_start := floor(random() * (coalesce(v_last, 0) + 1))::integer;
                SELECT coalesce(array_agg(id ORDER BY seat_order), '{}') INTO v_taken FROM (
                    SELECT id, seat_order FROM seats
                    WHERE event_id = p_event AND ticket_class_id = p_class AND state = 'free' AND seat_order >= v_start
                    ORDER BY seat_order LIMIT p_count FOR UPDATE SKIP LOCKED) s;
                IF cardinality(v_taken) < p_count THEN
                    SELECT coalesce(array_agg(id ORDER BY seat_order), '{}') INTO v_more FROM (
                        SELECT id, seat_order FROM seats
                        WHERE event_id = p_event AND ticket_class_id = p_class AND state = 'free' AND seat_order < v_start
                        ORDER BY seat_order LIMIT p_count - cardinality(v_taken) FOR UPDATE SKIP LOCKED) s;
                    v_taken := v_taken || v_more;
                END IF;
                IF cardinality(v_taken) < p_count THEN
                    RAISE EXCEPTION 'class %/% has fewer free seats than its counters say', p_event, p_class;
                END IF;
                UPDATE seats SET state = 'held'
                WHERE event_id = p_event AND ticket_class_id = p_class AND id = ANY (v_taken);
                RETURN v_taken;
            END
            $f$;

            -- Gives the seats of reservations back (`free`: released or expired) or marks them sold.
            CREATE FUNCTION inventory_settle_seats(p_reservations text[], p_state text) RETURNS void LANGUAGE plpgsql AS $f$
            BEGIN
                UPDATE seats s SET state = p_state
                FROM reservation_seats rs
                WHERE rs.reservation_id = ANY (p_reservations) AND rs.live
                  AND s.event_id = rs.event_id AND s.ticket_class_id = rs.ticket_class_id AND s.id = rs.seat_id;
                IF p_state = 'free' THEN
                    UPDATE reservation_seats SET live = false WHERE reservation_id = ANY (p_reservations) AND live;
                END IF;
            END
            $f$;

            -- One batch of reserve, release and confirm operations on one set of ticket classes of
            -- an event, in one transaction, in arrival order (first come, first served).
            -- Locks: the holders of keyed operations (advisory, sorted), then the class rows (sorted
            -- by id), then the reservations the batch releases or confirms (sorted by id); every
            -- writer takes them in that order, so batches cannot deadlock. The work is set-based:
            -- the operations are read into arrays by one statement, what they need is read by a
            -- fixed number of statements, the decisions are made on scalar arrays (PL/pgSQL appends
            -- to those in place; building jsonb per operation was most of the cost), and the writes
            -- and the JSON of the outcomes are one statement each. Returns the outcome of each
            -- operation, the classes' stock after the batch and the lock wait.
            CREATE FUNCTION inventory_apply(p_event text, p_classes text[], p_ops jsonb,
                                            p_hold_seconds integer, p_ticket_limit integer)
            RETURNS jsonb LANGUAGE plpgsql AS $f$
            DECLARE
                v_started   timestamptz := clock_timestamp();
                v_locked    timestamptz;
                v_now       timestamptz;
                v_expires   timestamptz := now() + make_interval(secs => p_hold_seconds);
                v_expires_text text := inventory_time(now() + make_interval(secs => p_hold_seconds));
                -- the operations
                o_kind text[]; o_holder bigint[]; o_key text[]; o_hash text[]; o_id text[]; o_items text[];
                o_res text[]; o_order text[]; o_method text[]; o_sim text[];
                -- the classes
                c_id text[] := '{}'; c_capacity integer[] := '{}'; c_held integer[] := '{}'; c_sold integer[] := '{}';
                c_held0 integer[]; c_sold0 integer[]; c_price bigint[] := '{}'; c_seated boolean[] := '{}';
                -- the reservations released or confirmed: items as "class:qty:price;…"
                t_id text[]; t_holder bigint[]; t_status text[]; t_expires timestamptz[]; t_order text[]; t_items text[];
                t_changed boolean[];
                -- keys known (stored, or earlier in this batch): "holder/key", hash, stored outcome or index here
                k_name text[]; k_hash text[]; k_stored jsonb[]; k_index integer[];
                -- tickets per holder (the limit)
                u_holder bigint[]; u_count bigint[];
                -- outcomes: status, error, message, reservation id, order id, order status, the
                -- items as JSON text, the stored outcome of a replay, whether it replays one of this batch
                r_status integer[] := '{}'; r_error text[] := '{}'; r_message text[] := '{}'; r_rid text[] := '{}';
                r_oid text[] := '{}'; r_ostatus text[] := '{}'; r_items text[] := '{}'; r_stored jsonb[] := '{}';
                r_replayed boolean[] := '{}';
                -- writes
                n_res text[] := '{}'; n_holder bigint[] := '{}'; n_cids text[] := '{}';
                n_item_res text[] := '{}'; n_item_class text[] := '{}'; n_item_qty integer[] := '{}'; n_item_price bigint[] := '{}';
                n_seat_res text[] := '{}'; n_seat_class text[] := '{}'; n_seat_id text[] := '{}';
                n_ord_id text[] := '{}'; n_ord_res text[] := '{}'; n_ord_holder bigint[] := '{}'; n_ord_amount bigint[] := '{}';
                n_ord_method text[] := '{}'; n_ord_sim text[] := '{}';
                n_key_index integer[] := '{}';
                v_free text[] := '{}';
                v_soldseats text[] := '{}';
                v_row record;
                v_i integer; v_j integer; v_n integer; v_idx integer; v_t integer; v_k integer;
                v_qty integer; v_short boolean; v_anyseat boolean; v_holder bigint; v_key text; v_name text;
                v_wanted bigint; v_used bigint; v_amount bigint; v_seats text[]; v_status text; v_parts text[];
                v_part text; v_item text; v_out text; v_cids text; v_results jsonb; v_classes jsonb := '[]';
                v_kind text; v_error text; v_message text;
            BEGIN
                SELECT array_agg(o->>'op' ORDER BY n), array_agg((o->>'holder')::bigint ORDER BY n),
                       array_agg(o->>'key' ORDER BY n), array_agg(o->>'hash' ORDER BY n), array_agg(o->>'id' ORDER BY n),
                       array_agg((SELECT string_agg((i->>'c') || ':' || (i->>'q'), ';' ORDER BY m)
                                  FROM jsonb_array_elements(o->'items') WITH ORDINALITY AS x(i, m)) ORDER BY n),
                       array_agg(o->>'reservation' ORDER BY n), array_agg(o->>'orderId' ORDER BY n),
                       array_agg(o #>> '{payment,method}' ORDER BY n), array_agg(o #>> '{payment,simulate}' ORDER BY n)
                INTO o_kind, o_holder, o_key, o_hash, o_id, o_items, o_res, o_order, o_method, o_sim
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n);
                v_n := coalesce(cardinality(o_kind), 0);

                FOR v_holder IN
                    SELECT DISTINCT h FROM unnest(o_holder, o_key) AS x(h, k) WHERE k IS NOT NULL ORDER BY 1
                LOOP
                    -- The schema is part of the key: advisory locks are per database, inventories per schema.
                    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || p_event || '/' || v_holder::text, 7));
                END LOOP;
                FOR v_row IN
                    SELECT id, capacity, held, sold, price_cents, seated FROM ticket_classes
                    WHERE event_id = p_event AND id = ANY (p_classes) ORDER BY id FOR UPDATE
                LOOP
                    c_id := c_id || v_row.id;
                    c_capacity := c_capacity || v_row.capacity;
                    c_held := c_held || v_row.held;
                    c_sold := c_sold || v_row.sold;
                    c_price := c_price || v_row.price_cents;
                    c_seated := c_seated || v_row.seated;
                END LOOP;
                c_held0 := c_held;
                c_sold0 := c_sold;
                SELECT coalesce(array_agg(r.id ORDER BY r.id), '{}'), coalesce(array_agg(r.holder ORDER BY r.id), '{}'),
                       coalesce(array_agg(r.status ORDER BY r.id), '{}'), coalesce(array_agg(r.expires_at ORDER BY r.id), '{}'),
                       coalesce(array_agg(r.order_id ORDER BY r.id), '{}'),
                       coalesce(array_agg((SELECT string_agg(ri.ticket_class_id || ':' || ri.quantity || ':' || ri.price_cents, ';')
                                           FROM reservation_items ri WHERE ri.reservation_id = r.id) ORDER BY r.id), '{}'),
                       coalesce(array_agg(false ORDER BY r.id), '{}')
                INTO t_id, t_holder, t_status, t_expires, t_order, t_items, t_changed
                FROM (SELECT id, holder, status, expires_at, order_id FROM reservations
                      WHERE event_id = p_event AND id = ANY (o_res) ORDER BY id FOR UPDATE) r;
                v_locked := clock_timestamp();
                v_now := v_locked;

                SELECT coalesce(array_agg(ik.holder || '/' || ik.key), '{}'), coalesce(array_agg(ik.request_hash), '{}'),
                       coalesce(array_agg(ik.response), '{}'), coalesce(array_agg(0), '{}')
                INTO k_name, k_hash, k_stored, k_index
                -- One primary-key probe per key (LATERAL): a join here may turn into a scan of the
                -- whole table once its plan is generic.
                FROM (SELECT DISTINCT h, k FROM unnest(o_holder, o_key) AS x(h, k) WHERE k IS NOT NULL) b
                JOIN LATERAL (SELECT holder, key, request_hash, response FROM idempotency_keys
                              WHERE event_id = p_event AND holder = b.h AND key = b.k) ik ON true;
                u_holder := '{}';
                u_count := '{}';
                IF p_ticket_limit > 0 THEN
                    SELECT coalesce(array_agg(u.holder), '{}'), coalesce(array_agg(u.n), '{}') INTO u_holder, u_count
                    FROM (SELECT b.h AS holder, l.n
                          FROM (SELECT DISTINCT h FROM unnest(o_holder, o_kind) AS x(h, k) WHERE k = 'reserve') b
                          JOIN LATERAL (SELECT sum(ri.quantity) AS n
                                        FROM reservations r JOIN reservation_items ri ON ri.reservation_id = r.id
                                        WHERE r.event_id = p_event AND r.holder = b.h AND r.status IN ('held', 'confirmed')) l
                            ON l.n IS NOT NULL) u;
                END IF;

                FOR v_i IN 1 .. v_n LOOP
                    v_kind := o_kind[v_i];
                    v_holder := o_holder[v_i];
                    v_key := o_key[v_i];
                    r_status := r_status || NULL::integer; r_error := r_error || NULL::text; r_message := r_message || NULL::text;
                    r_rid := r_rid || NULL::text; r_oid := r_oid || NULL::text; r_ostatus := r_ostatus || NULL::text;
                    r_items := r_items || NULL::text; r_stored := r_stored || NULL::jsonb; r_replayed := r_replayed || false;
                    v_error := NULL;
                    v_message := NULL;
                    IF v_key IS NOT NULL THEN
                        v_name := v_holder || '/' || v_key;
                        v_k := array_position(k_name, v_name);
                        IF v_k IS NOT NULL THEN
                            IF k_hash[v_k] = o_hash[v_i] THEN
                                v_j := k_index[v_k];
                                IF v_j > 0 THEN
                                    -- An earlier operation of this batch, already decided: its outcome again.
                                    r_status[v_i] := r_status[v_j]; r_error[v_i] := r_error[v_j]; r_message[v_i] := r_message[v_j];
                                    r_rid[v_i] := r_rid[v_j]; r_oid[v_i] := r_oid[v_j]; r_ostatus[v_i] := r_ostatus[v_j];
                                    r_items[v_i] := r_items[v_j]; r_replayed[v_i] := true;
                                ELSE
                                    r_stored[v_i] := k_stored[v_k];
                                END IF;
                            ELSE
                                r_status[v_i] := 422; r_error[v_i] := 'idempotency_key_reused';
                                r_message[v_i] := 'this Idempotency-Key was used with a different request';
                            END IF;
                            CONTINUE;
                        END IF;
                    END IF;

                    IF v_kind = 'reserve' THEN
                        v_parts := string_to_array(o_items[v_i], ';');
                        v_wanted := 0;
                        v_short := false;
                        FOREACH v_item IN ARRAY v_parts LOOP
                            v_idx := array_position(c_id, split_part(v_item, ':', 1));
                            IF v_idx IS NULL THEN
                                v_error := 'invalid_items';
                                v_message := format('the event has no ticket class %s', split_part(v_item, ':', 1));
                                EXIT;
                            END IF;
                            v_qty := split_part(v_item, ':', 2)::integer;
                            v_wanted := v_wanted + v_qty;
                            IF c_capacity[v_idx] - c_held[v_idx] - c_sold[v_idx] < v_qty THEN v_short := true; END IF;
                        END LOOP;
                        v_k := array_position(u_holder, v_holder);
                        v_used := CASE WHEN v_k IS NULL THEN 0 ELSE u_count[v_k] END;
                        IF v_error IS NOT NULL THEN
                            r_status[v_i] := 422;
                        ELSIF p_ticket_limit > 0 AND v_used + v_wanted > p_ticket_limit THEN
                            r_status[v_i] := 409; v_error := 'ticket_limit_exceeded';
                            v_message := format('at most %s tickets per admission; %s already reserved', p_ticket_limit, v_used);
                        ELSIF v_short THEN
                            r_status[v_i] := 409; v_error := 'insufficient_inventory';
                            v_message := 'not enough tickets left in a requested class';
                        ELSE
                            IF v_k IS NULL THEN
                                u_holder := u_holder || v_holder; u_count := u_count || v_wanted;
                            ELSE
                                u_count[v_k] := v_used + v_wanted;
                            END IF;
                            v_out := NULL;
                            v_cids := NULL;
                            FOREACH v_item IN ARRAY v_parts LOOP
                                v_part := split_part(v_item, ':', 1);
                                v_idx := array_position(c_id, v_part);
                                v_qty := split_part(v_item, ':', 2)::integer;
                                c_held[v_idx] := c_held[v_idx] + v_qty;
                                n_item_res := n_item_res || o_id[v_i]; n_item_class := n_item_class || v_part;
                                n_item_qty := n_item_qty || v_qty; n_item_price := n_item_price || c_price[v_idx];
                                v_cids := CASE WHEN v_cids IS NULL THEN v_part ELSE v_cids || ',' || v_part END;
                                IF c_seated[v_idx] THEN
                                    v_seats := inventory_take_seats(p_event, v_part, v_qty);
                                    n_seat_res := n_seat_res || array_fill(o_id[v_i], ARRAY[cardinality(v_seats)]);
                                    n_seat_class := n_seat_class || array_fill(v_part, ARRAY[cardinality(v_seats)]);
                                    n_seat_id := n_seat_id || v_seats;
                                    -- Ids are [A-Za-z0-9_-] (classes) and [A-Za-z0-9]+-n (seats): no escaping.
                                    v_item := '{"ticketClassId":"' || v_part || '","quantity":' || v_qty
                                              || ',"seats":["' || array_to_string(v_seats, '","') || '"]}';
                                ELSE
                                    v_item := '{"ticketClassId":"' || v_part || '","quantity":' || v_qty || '}';
                                END IF;
                                v_out := CASE WHEN v_out IS NULL THEN '[' || v_item ELSE v_out || ',' || v_item END;
                            END LOOP;
                            v_out := v_out || ']';
                            n_res := n_res || o_id[v_i]; n_holder := n_holder || v_holder; n_cids := n_cids || v_cids;
                            r_status[v_i] := 201; r_rid[v_i] := o_id[v_i]; r_items[v_i] := v_out;
                        END IF;

                    ELSIF v_kind IN ('release', 'confirm') THEN
                        v_t := array_position(t_id, o_res[v_i]);
                        IF v_t IS NULL OR t_holder[v_t] <> v_holder THEN
                            r_status[v_i] := 404; r_error[v_i] := 'reservation_not_found'; r_message[v_i] := 'no such reservation';
                            CONTINUE;   -- not stored under the key: nothing happened
                        END IF;
                        v_status := t_status[v_t];
                        IF v_status = 'held' AND (v_kind = 'release' OR t_expires[v_t] <= v_now) THEN
                            -- Give the tickets back: a release, or a confirm that came too late.
                            v_anyseat := false;
                            FOREACH v_item IN ARRAY string_to_array(t_items[v_t], ';') LOOP
                                v_idx := array_position(c_id, split_part(v_item, ':', 1));
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', o_res[v_i];
                                END IF;
                                c_held[v_idx] := c_held[v_idx] - split_part(v_item, ':', 2)::integer;
                                v_anyseat := v_anyseat OR c_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN v_free := v_free || o_res[v_i]; END IF;
                            v_status := CASE WHEN v_kind = 'release' THEN 'released' ELSE 'expired' END;
                            t_status[v_t] := v_status;
                            t_changed[v_t] := true;
                            IF v_kind = 'release' THEN r_status[v_i] := 204; END IF;
                        END IF;
                        IF r_status[v_i] IS NOT NULL THEN
                            NULL;
                        ELSIF v_kind = 'release' THEN
                            IF v_status = 'confirmed' THEN
                                r_status[v_i] := 409; v_error := 'reservation_confirmed';
                                v_message := 'a confirmed reservation cannot be released';
                            ELSE
                                r_status[v_i] := 204;   -- already released or expired
                            END IF;
                        ELSIF v_status = 'expired' THEN
                            r_status[v_i] := 409; v_error := 'reservation_expired';
                            v_message := 'the hold expired before it was confirmed';
                        ELSIF v_status = 'released' THEN
                            r_status[v_i] := 409; v_error := 'reservation_released'; v_message := 'the hold was released';
                        ELSIF v_status = 'confirmed' THEN
                            r_status[v_i] := 202; r_oid[v_i] := t_order[v_t];
                            r_ostatus[v_i] := coalesce((SELECT status FROM orders WHERE id = t_order[v_t]), 'pending');
                        ELSE
                            v_amount := 0;
                            v_anyseat := false;
                            FOREACH v_item IN ARRAY string_to_array(t_items[v_t], ';') LOOP
                                v_idx := array_position(c_id, split_part(v_item, ':', 1));
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', o_res[v_i];
                                END IF;
                                v_qty := split_part(v_item, ':', 2)::integer;
                                c_held[v_idx] := c_held[v_idx] - v_qty;
                                c_sold[v_idx] := c_sold[v_idx] + v_qty;
                                v_amount := v_amount + v_qty * split_part(v_item, ':', 3)::bigint;
                                v_anyseat := v_anyseat OR c_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN v_soldseats := v_soldseats || o_res[v_i]; END IF;
                            t_status[v_t] := 'confirmed';
                            t_order[v_t] := o_order[v_i];
                            t_changed[v_t] := true;
                            n_ord_id := n_ord_id || o_order[v_i]; n_ord_res := n_ord_res || o_res[v_i];
                            n_ord_holder := n_ord_holder || v_holder; n_ord_amount := n_ord_amount || v_amount;
                            n_ord_method := n_ord_method || o_method[v_i]; n_ord_sim := n_ord_sim || o_sim[v_i];
                            r_status[v_i] := 202; r_oid[v_i] := o_order[v_i]; r_ostatus[v_i] := 'pending';
                        END IF;
                    ELSE
                        RAISE EXCEPTION 'unknown inventory operation %', v_kind;
                    END IF;
                    r_error[v_i] := coalesce(r_error[v_i], v_error);
                    r_message[v_i] := coalesce(r_message[v_i], v_message);

                    IF v_key IS NOT NULL AND r_status[v_i] <> 404 THEN
                        k_name := k_name || v_name; k_hash := k_hash || o_hash[v_i];
                        k_stored := k_stored || NULL::jsonb; k_index := k_index || v_i;
                        n_key_index := n_key_index || v_i;
                    END IF;
                END LOOP;

                -- The outcomes as JSON, in one statement.
                SELECT coalesce(jsonb_agg(CASE
                        WHEN x.stored IS NOT NULL THEN x.stored || '{"replayed": true}'
                        ELSE CASE
                            WHEN x.err IS NOT NULL THEN jsonb_build_object('status', x.st, 'error', x.err, 'message', x.msg)
                            WHEN x.rid IS NOT NULL THEN jsonb_build_object('status', x.st, 'body', jsonb_build_object(
                                'reservationId', x.rid, 'status', 'held', 'expiresAt', v_expires_text, 'items', x.items::jsonb))
                            WHEN x.oid IS NOT NULL THEN jsonb_build_object('status', x.st, 'body', jsonb_build_object(
                                'orderId', x.oid, 'status', x.ost))
                            ELSE jsonb_build_object('status', x.st)
                        END || CASE WHEN x.replayed THEN '{"replayed": true}'::jsonb ELSE '{}'::jsonb END
                    END ORDER BY x.n), '[]')
                INTO v_results
                FROM unnest(r_status, r_error, r_message, r_rid, r_oid, r_ostatus, r_items, r_stored, r_replayed)
                     WITH ORDINALITY AS x(st, err, msg, rid, oid, ost, items, stored, replayed, n);

                -- The writes, one statement per table.
                IF cardinality(n_res) > 0 THEN
                    INSERT INTO reservations (id, event_id, holder, class_ids, status, expires_at)
                    SELECT x.id, p_event, x.h, ARRAY(SELECT c FROM unnest(string_to_array(x.cids, ',')) AS c ORDER BY 1), 'held', v_expires
                    FROM unnest(n_res, n_holder, n_cids) AS x(id, h, cids);
                    INSERT INTO reservation_items (reservation_id, event_id, ticket_class_id, quantity, price_cents)
                    SELECT x.r, p_event, x.c, x.q, x.p FROM unnest(n_item_res, n_item_class, n_item_qty, n_item_price) AS x(r, c, q, p);
                    IF cardinality(n_seat_res) > 0 THEN
                        INSERT INTO reservation_seats (reservation_id, event_id, ticket_class_id, seat_id)
                        SELECT x.r, p_event, x.c, x.s FROM unnest(n_seat_res, n_seat_class, n_seat_id) AS x(r, c, s);
                    END IF;
                END IF;
                IF true = ANY (t_changed) THEN
                    UPDATE reservations r SET status = x.st, updated_at = now(), order_id = coalesce(r.order_id, x.ord)
                    FROM unnest(t_id, t_status, t_order, t_changed) AS x(id, st, ord, changed)
                    WHERE x.changed AND r.id = x.id;
                END IF;
                IF cardinality(v_free) > 0 THEN PERFORM inventory_settle_seats(v_free, 'free'); END IF;
                IF cardinality(v_soldseats) > 0 THEN PERFORM inventory_settle_seats(v_soldseats, 'sold'); END IF;
                IF cardinality(n_ord_id) > 0 THEN
                    INSERT INTO orders (id, reservation_id, event_id, holder, amount_cents, payment_method, simulate)
                    SELECT x.id, x.r, p_event, x.h, x.a, x.m, x.s
                    FROM unnest(n_ord_id, n_ord_res, n_ord_holder, n_ord_amount, n_ord_method, n_ord_sim) AS x(id, r, h, a, m, s);
                END IF;
                IF cardinality(n_key_index) > 0 THEN
                    INSERT INTO idempotency_keys (event_id, holder, key, request_hash, status_code, response)
                    SELECT p_event, o_holder[i], o_key[i], o_hash[i], r_status[i], v_results -> (i - 1)
                    FROM unnest(n_key_index) AS i;
                END IF;
                FOR v_idx IN 1 .. coalesce(array_length(c_id, 1), 0) LOOP
                    IF c_held[v_idx] <> c_held0[v_idx] OR c_sold[v_idx] <> c_sold0[v_idx] THEN
                        UPDATE ticket_classes
                        SET held = held + (c_held[v_idx] - c_held0[v_idx]), sold = sold + (c_sold[v_idx] - c_sold0[v_idx])
                        WHERE event_id = p_event AND id = c_id[v_idx];
                    END IF;
                END LOOP;
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'capacity', x.cap, 'held', x.h, 'sold', x.s)), '[]')
                INTO v_classes FROM unnest(c_id, c_capacity, c_held, c_sold) AS x(id, cap, h, s);
                RETURN jsonb_build_object(
                    'lockWaitMicros', floor(extract(epoch FROM v_locked - v_started) * 1000000)::bigint,
                    'results', v_results, 'classes', v_classes);
            END
            $f$;


            -- Expires up to `p_limit` holds of one event whose time has passed, by the database
            -- clock, and gives their tickets back in one update per class. Same lock order as
            -- `inventory_apply`: the class rows first, then the reservations.
            CREATE FUNCTION inventory_expire(p_event text, p_limit integer) RETURNS integer LANGUAGE plpgsql AS $f$
            DECLARE
                v_candidates text[];
                v_classes    text[];
                v_expired    text[];
            BEGIN
                SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(DISTINCT c), '{}')
                INTO v_candidates, v_classes
                FROM (SELECT id, unnest(class_ids) AS c FROM (
                        SELECT id, class_ids FROM reservations
                        WHERE event_id = p_event AND status = 'held' AND expires_at <= now()
                        ORDER BY expires_at LIMIT p_limit) r) x;
                IF cardinality(v_candidates) = 0 THEN RETURN 0; END IF;
                PERFORM 1 FROM ticket_classes WHERE event_id = p_event AND id = ANY (v_classes) ORDER BY id FOR UPDATE;
                WITH e AS (
                    UPDATE reservations SET status = 'expired', updated_at = now()
                    WHERE id = ANY (v_candidates) AND status = 'held' AND expires_at <= now()
                    RETURNING id)
                SELECT coalesce(array_agg(id), '{}') INTO v_expired FROM e;
                IF cardinality(v_expired) = 0 THEN RETURN 0; END IF;
                UPDATE ticket_classes tc SET held = tc.held - f.q
                FROM (SELECT ticket_class_id, sum(quantity)::integer AS q FROM reservation_items
                      WHERE reservation_id = ANY (v_expired) GROUP BY ticket_class_id) f
                WHERE tc.event_id = p_event AND tc.id = f.ticket_class_id;
                PERFORM inventory_settle_seats(v_expired, 'free');
                RETURN cardinality(v_expired);
            END
            $f$;
            """),

        // Version 3 is the Orders' (OrdersMigrations).
        Migration(version: 4, name: "inventory_apply probes idempotency keys one by one", sql: """
            -- The key lookup of `inventory_apply` is a LATERAL primary-key probe per key of the
            -- batch. Under a generic plan the planner flattened it into a hash join that read
            -- every key of the event, so a batch cost more the longer the sale ran (with 50,000
            -- keys, 25 ms for 16 reserves instead of 15). A LIMIT keeps the subquery whole. The
            -- function is otherwise unchanged, so this edits its stored definition in place and
            -- fails loudly if the text it expects is not there.
            DO $m$
            DECLARE
                v_definition text := pg_get_functiondef('inventory_apply(text, text[], jsonb, integer, integer)'::regprocedure);
                v_from text := 'WHERE event_id = p_event AND holder = b.h AND key = b.k) ik ON true';
                v_to text := 'WHERE event_id = p_event AND holder = b.h AND key = b.k LIMIT 1) ik ON true';
            BEGIN
                IF position(v_from IN v_definition) = 0 THEN
                    RAISE EXCEPTION 'inventory_apply does not have the key probe this migration fixes';
                END IF;
                EXECUTE replace(v_definition, v_from, v_to);
            END
            $m$;
            """),

        // The class-row lock is the one thing every batch of a hot class waits for, so the work
        // done while holding it is what caps throughput. This version decides an ordinary batch
        // (reserves and releases, no seats, no confirms, no replays, stock to spare) before it
        // takes the class locks, with set-based statements instead of a loop per operation, and
        // writes the new holds, their items and their idempotency keys then too; under the locks
        // it only checks that what it read still holds (stock, prices, the released holds'
        // statuses), marks the released holds and updates the counters. When a check fails, or
        // the batch is not an ordinary one, it undoes its early writes and runs the previous
        // function (now `inventory_apply_locked`), which decides everything under the locks.
        // Lock order is unchanged: holders (advisory), class rows, reservation rows.
        Migration(version: 5, name: "inventory_apply decides ordinary batches before the class lock", sql: """
            ALTER FUNCTION inventory_apply(text, text[], jsonb, integer, integer) RENAME TO inventory_apply_locked;

            CREATE FUNCTION inventory_apply(p_event text, p_classes text[], p_ops jsonb,
                                            p_hold_seconds integer, p_ticket_limit integer)
            RETURNS jsonb LANGUAGE plpgsql AS $f$
            DECLARE
                v_waited    interval := interval '0';
                v_t0        timestamptz;
                v_expires   timestamptz := now() + make_interval(secs => p_hold_seconds);
                v_expires_text text := inventory_time(now() + make_interval(secs => p_hold_seconds));
                v_holder    bigint;
                v_ok        boolean;
                -- the operations; items of reserves: operation index, class, quantity, position
                o_kind text[]; o_holder bigint[]; o_key text[]; o_res text[];
                i_op integer[]; i_class text[]; i_qty integer[]; i_m integer[];
                -- reserves: operation index, sorted class ids (comma-separated), items JSON
                s_op integer[]; s_cids text[]; s_items text[];
                -- the classes as read before the lock, and under it
                c_id text[]; c_capacity integer[]; c_held integer[]; c_sold integer[]; c_price bigint[]; c_seated boolean[];
                l_id text[]; l_capacity integer[]; l_held integer[]; l_sold integer[]; l_price bigint[];
                -- tickets taken and given back per class (c_id order)
                d_take integer[]; d_back integer[];
                -- the holds released (found, this holder's) and their statuses as read
                t_id text[]; t_status text[]; v_changed text[];
                v_results jsonb; v_classes jsonb;
            BEGIN
                SELECT array_agg(o->>'op' ORDER BY n), array_agg((o->>'holder')::bigint ORDER BY n),
                       array_agg(o->>'key' ORDER BY n), array_agg(o->>'reservation' ORDER BY n)
                INTO o_kind, o_holder, o_key, o_res
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n);

                -- Ordinary batches only: reserves (keyed) and releases (not keyed), each hold at most once.
                IF o_kind IS NULL OR NOT (o_kind <@ ARRAY['reserve', 'release'])
                   OR EXISTS (SELECT 1 FROM unnest(o_kind, o_key) AS x(k, key)
                              WHERE (x.k = 'reserve') <> (x.key IS NOT NULL))
                   OR (SELECT count(r) <> count(DISTINCT r) FROM unnest(o_res) AS r)
                   OR (SELECT count(k) <> count(DISTINCT (h, k)) FILTER (WHERE k IS NOT NULL) FROM unnest(o_holder, o_key) AS x(h, k)) THEN
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- The same holder locks as inventory_apply_locked (which takes them again when it
                -- runs: they stack). Keyed operations of these holders now wait for this batch, so
                -- their keys and their reserves cannot change under it.
                v_t0 := clock_timestamp();
                FOR v_holder IN
                    SELECT DISTINCT h FROM unnest(o_holder, o_key) AS x(h, k) WHERE k IS NOT NULL ORDER BY 1
                LOOP
                    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || p_event || '/' || v_holder::text, 7));
                END LOOP;
                v_waited := clock_timestamp() - v_t0;

                SELECT coalesce(array_agg(t.n::integer ORDER BY t.n, x.m), '{}'), coalesce(array_agg(x.i->>'c' ORDER BY t.n, x.m), '{}'),
                       coalesce(array_agg((x.i->>'q')::integer ORDER BY t.n, x.m), '{}'), coalesce(array_agg(x.m::integer ORDER BY t.n, x.m), '{}')
                INTO i_op, i_class, i_qty, i_m
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n),
                     jsonb_array_elements(coalesce(t.o->'items', '[]')) WITH ORDINALITY AS x(i, m)
                WHERE t.o->>'op' = 'reserve';
                SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(capacity ORDER BY id), '{}'),
                       coalesce(array_agg(held ORDER BY id), '{}'), coalesce(array_agg(sold ORDER BY id), '{}'),
                       coalesce(array_agg(price_cents ORDER BY id), '{}'), coalesce(array_agg(seated ORDER BY id), '{}')
                INTO c_id, c_capacity, c_held, c_sold, c_price, c_seated
                FROM ticket_classes WHERE event_id = p_event AND id = ANY (p_classes);
                SELECT array_agg(coalesce((SELECT sum(x.q) FROM unnest(i_class, i_qty) AS x(c, q) WHERE x.c = c.id), 0)::integer ORDER BY c.n)
                INTO d_take FROM unnest(c_id) WITH ORDINALITY AS c(id, n);

                -- Still ordinary: no seats, every class known, stock for every reserve, no one over
                -- the ticket limit, no stored key (a replay or a reuse), at least one reserve or release.
                IF cardinality(c_id) = 0 OR true = ANY (c_seated)
                   OR NOT (i_class <@ c_id)
                   OR (SELECT count(DISTINCT op) FROM unnest(i_op) AS op) <> (SELECT count(*) FROM unnest(o_kind) AS k WHERE k = 'reserve')
                   OR EXISTS (SELECT 1 FROM unnest(c_capacity, c_held, c_sold, d_take) AS x(cap, h, s, d) WHERE cap - h - s < d)
                   OR (p_ticket_limit > 0 AND EXISTS (
                        SELECT 1
                        FROM (SELECT o_holder[x.op] AS h, sum(x.q) AS wanted FROM unnest(i_op, i_qty) AS x(op, q) GROUP BY 1) w
                        WHERE w.wanted + coalesce((SELECT sum(ri.quantity)
                                                   FROM reservations r JOIN reservation_items ri ON ri.reservation_id = r.id
                                                   WHERE r.event_id = p_event AND r.holder = w.h AND r.status IN ('held', 'confirmed')), 0)
                              > p_ticket_limit))
                   OR EXISTS (SELECT 1 FROM unnest(o_holder, o_key) AS b(h, k)
                              JOIN LATERAL (SELECT 1 FROM idempotency_keys
                                            WHERE event_id = p_event AND holder = b.h AND key = b.k LIMIT 1) ik ON true
                              WHERE b.k IS NOT NULL) THEN
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- The holds to release, as they are now (read again under the locks).
                SELECT coalesce(array_agg(r.id ORDER BY r.id), '{}'), coalesce(array_agg(r.status ORDER BY r.id), '{}'),
                       coalesce(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.status = 'held'), '{}')
                INTO t_id, t_status, v_changed
                FROM unnest(o_kind, o_holder, o_res) AS x(k, h, res)
                JOIN reservations r ON r.id = x.res AND r.event_id = p_event AND r.holder = x.h
                WHERE x.k = 'release';
                SELECT array_agg(coalesce(g.q, 0) ORDER BY c.n), count(g.cls) = (SELECT count(DISTINCT ri.ticket_class_id) FROM reservation_items ri
                                           WHERE ri.reservation_id = ANY (v_changed))
                INTO d_back, v_ok
                FROM unnest(c_id) WITH ORDINALITY AS c(id, n)
                LEFT JOIN (SELECT ri.ticket_class_id AS cls, sum(ri.quantity)::integer AS q FROM reservation_items ri
                           WHERE ri.reservation_id = ANY (v_changed) GROUP BY 1) g ON g.cls = c.id;
                IF NOT v_ok THEN
                    -- A hold with a class outside the locked set: inventory_apply_locked refuses it loudly.
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- The outcomes, decided: every reserve is held; a release is 204 (also of an ended
                -- hold), 409 for a confirmed one, 404 for an unknown one or another admission's.
                SELECT coalesce(array_agg(y.op ORDER BY y.op), '{}'), coalesce(array_agg(y.cids ORDER BY y.op), '{}'),
                       coalesce(array_agg(y.items ORDER BY y.op), '{}')
                INTO s_op, s_cids, s_items
                FROM (SELECT x.op, string_agg(x.c, ',' ORDER BY x.c) AS cids,
                             '[' || string_agg('{"ticketClassId":"' || x.c || '","quantity":' || x.q || '}', ',' ORDER BY x.m) || ']' AS items
                      FROM unnest(i_op, i_class, i_qty, i_m) AS x(op, c, q, m) GROUP BY x.op) y;
                SELECT jsonb_agg(CASE
                        WHEN x.k = 'reserve' THEN jsonb_build_object('status', 201, 'body', jsonb_build_object(
                            'reservationId', x.id, 'status', 'held', 'expiresAt', v_expires_text,
                            'items', s_items[array_position(s_op, x.n::integer)]::jsonb))
                        WHEN x.res = ANY (t_id) THEN CASE WHEN t_status[array_position(t_id, x.res)] = 'confirmed'
                            THEN jsonb_build_object('status', 409, 'error', 'reservation_confirmed',
                                                    'message', 'a confirmed reservation cannot be released')
                            ELSE jsonb_build_object('status', 204) END
                        ELSE jsonb_build_object('status', 404, 'error', 'reservation_not_found', 'message', 'no such reservation')
                    END ORDER BY x.n)
                INTO v_results
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n),
                     LATERAL (SELECT t.o->>'op' AS k, t.o->>'id' AS id, t.o->>'reservation' AS res, t.n) x;

                -- The new holds, their items and keys, before the lock: rows nobody else can see yet.
                IF cardinality(s_op) > 0 THEN
                    INSERT INTO reservations (id, event_id, holder, class_ids, status, expires_at)
                    SELECT p_ops -> (x.op - 1) ->> 'id', p_event, o_holder[x.op], string_to_array(x.cids, ','), 'held', v_expires
                    FROM unnest(s_op, s_cids) AS x(op, cids);
                    INSERT INTO reservation_items (reservation_id, event_id, ticket_class_id, quantity, price_cents)
                    SELECT p_ops -> (x.op - 1) ->> 'id', p_event, x.c, x.q, c_price[array_position(c_id, x.c)]
                    FROM unnest(i_op, i_class, i_qty) AS x(op, c, q);
                    INSERT INTO idempotency_keys (event_id, holder, key, request_hash, status_code, response)
                    SELECT p_event, o_holder[x.op], o_key[x.op], p_ops -> (x.op - 1) ->> 'hash', 201, v_results -> (x.op - 1)
                    FROM unnest(s_op) AS x(op);
                END IF;

                -- The class locks (sorted), then: is everything read above still so?
                v_t0 := clock_timestamp();
                SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(capacity ORDER BY id), '{}'),
                       coalesce(array_agg(held ORDER BY id), '{}'), coalesce(array_agg(sold ORDER BY id), '{}'),
                       coalesce(array_agg(price_cents ORDER BY id), '{}')
                INTO l_id, l_capacity, l_held, l_sold, l_price
                FROM (SELECT id, capacity, held, sold, price_cents FROM ticket_classes
                      WHERE event_id = p_event AND id = ANY (p_classes) ORDER BY id FOR UPDATE) c;
                v_waited := v_waited + (clock_timestamp() - v_t0);
                v_ok := l_id = c_id AND l_price = c_price
                        AND NOT EXISTS (SELECT 1 FROM unnest(l_capacity, l_held, l_sold, d_take) AS x(cap, h, s, d) WHERE cap - h - s < d)
                        AND (cardinality(t_id) = 0 OR (SELECT count(*) FROM unnest(t_id, t_status) AS x(id, st)
                                                       JOIN reservations r ON r.id = x.id AND r.status = x.st) = cardinality(t_id));
                IF NOT v_ok THEN
                    IF cardinality(s_op) > 0 THEN
                        DELETE FROM idempotency_keys k USING unnest(s_op) AS x(op)
                        WHERE k.event_id = p_event AND k.holder = o_holder[x.op] AND k.key = o_key[x.op];
                        DELETE FROM reservations WHERE id IN (SELECT p_ops -> (x.op - 1) ->> 'id' FROM unnest(s_op) AS x(op));
                    END IF;
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- Under the locks: the released holds and the counters, one statement each.
                IF cardinality(v_changed) > 0 THEN
                    UPDATE reservations SET status = 'released', updated_at = now() WHERE id = ANY (v_changed);
                END IF;
                UPDATE ticket_classes tc SET held = tc.held + x.d - x.b
                FROM unnest(c_id, d_take, d_back) AS x(id, d, b)
                WHERE tc.event_id = p_event AND tc.id = x.id AND x.d <> x.b;
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'capacity', x.cap, 'held', x.h + x.d - x.b, 'sold', x.s)), '[]')
                INTO v_classes FROM unnest(l_id, l_capacity, l_held, l_sold, d_take, d_back) AS x(id, cap, h, s, d, b);
                RETURN jsonb_build_object(
                    'lockWaitMicros', floor(extract(epoch FROM v_waited) * 1000000)::bigint,
                    'results', v_results, 'classes', v_classes);
            END
            $f$;
            """),

        // The plan cache chose custom plans for some of `inventory_apply`'s statements (their
        // array parameters make the generic estimate look dearer), so every batch planned them
        // again: about a third of the function's CPU for small batches in a profile. The generic
        // plans are the same index scans (checked with auto_explain on batches of 1 to 64
        // operations). Measured on two databases side by side, batches of 6 reserves and 6
        // releases: 3.1 ms of backend CPU per batch before, 2.3 ms after (median of 10 pairs).
        Migration(version: 6, name: "inventory_apply keeps generic plans", sql: """
            ALTER FUNCTION inventory_apply(text, text[], jsonb, integer, integer) SET plan_cache_mode = force_generic_plan;
            """),

        // The ordinary path of version 5 with fewer statements and fewer sorts, the same
        // decisions: each statement a plan-cached SPI call pays its executor start-up (about a
        // quarter of the function's CPU at small batches, its aggregates' set-up the most of it,
        // and a sort per aggregate with an ORDER BY). The operations and the ordinary-batch test
        // are one statement, the holder locks one, the classes with the tickets taken one, the
        // tickets given back one, the outcomes one, the three inserts one, the released holds
        // and the counters one; aggregates read ordered input instead of sorting each; the
        // expiry's text is computed inline (`inventory_time`, a SQL function whose body is not
        // immutable, was planned again in every transaction). `inventory_apply_locked` and every
        // other path are unchanged. Measured with `LoadTests/probe-batch.sh 6 1 15` on the same
        // cluster (PostgreSQL CPU per batch): 806 → 675 µs for one reserve + release, 1,674 →
        // 1,475 µs for 15.
        Migration(version: 7, name: "inventory_apply's ordinary path in fewer statements", sql: """
            CREATE OR REPLACE FUNCTION inventory_apply(p_event text, p_classes text[], p_ops jsonb,
                                                       p_hold_seconds integer, p_ticket_limit integer)
            RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $f$
            DECLARE
                v_waited    interval;
                v_t0        timestamptz;
                v_expires   timestamptz := now() + make_interval(secs => p_hold_seconds);
                v_ok        boolean;
                v_reserves  integer;
                v_item_ops  integer;
                v_seated    boolean;
                v_short     boolean;
                -- the operations; items of reserves: operation index, class, quantity (in request order)
                o_kind text[]; o_holder bigint[]; o_key text[]; o_res text[];
                i_op integer[]; i_class text[]; i_qty integer[];
                -- the classes as read before the lock, and under it
                c_id text[]; c_capacity integer[]; c_held integer[]; c_sold integer[]; c_price bigint[];
                l_id text[]; l_capacity integer[]; l_held integer[]; l_sold integer[]; l_price bigint[];
                -- tickets taken and given back per class (c_id order)
                d_take integer[]; d_back integer[];
                -- the holds released (found, this holder's) and their statuses as read
                t_id text[]; t_status text[]; v_changed text[];
                v_results jsonb; v_classes jsonb;
            BEGIN
                -- An aggregate without ORDER BY takes its rows in the order its input gives them: below,
                -- the input is either one function scan (jsonb_array_elements, unnest: their elements in
                -- order) or a subquery with an ORDER BY, so one sort (or none) serves every aggregate.

                -- The operations, and whether the batch is an ordinary one: reserves (keyed) and releases
                -- (not keyed), each hold at most once, each key at most once.
                SELECT array_agg(x.k), array_agg(x.h), array_agg(x.key), array_agg(x.res),
                       bool_and(coalesce(x.k IN ('reserve', 'release') AND (x.k = 'reserve') = (x.key IS NOT NULL), false))
                           AND count(x.res) = count(DISTINCT x.res)
                           AND count(x.key) = count(DISTINCT (x.h, x.key)) FILTER (WHERE x.key IS NOT NULL),
                       count(*) FILTER (WHERE x.k = 'reserve')
                INTO o_kind, o_holder, o_key, o_res, v_ok, v_reserves
                FROM (SELECT t.o->>'op' AS k, (t.o->>'holder')::bigint AS h, t.o->>'key' AS key, t.o->>'reservation' AS res
                      FROM jsonb_array_elements(p_ops) AS t(o)) x;
                IF v_ok IS NOT TRUE THEN
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- The same holder locks as inventory_apply_locked (which takes them again when it runs:
                -- they stack), in holder order. Keyed operations of these holders now wait for this batch,
                -- so their keys and their reserves cannot change under it.
                v_t0 := clock_timestamp();
                PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || p_event || '/' || s.h::text, 7))
                FROM (SELECT DISTINCT x.h FROM unnest(o_holder, o_key) AS x(h, k) WHERE x.k IS NOT NULL ORDER BY 1) s;
                v_waited := clock_timestamp() - v_t0;

                SELECT coalesce(array_agg(t.n::integer), '{}'), coalesce(array_agg(x.i->>'c'), '{}'),
                       coalesce(array_agg((x.i->>'q')::integer), '{}'), count(DISTINCT t.n)
                INTO i_op, i_class, i_qty, v_item_ops
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n),
                     jsonb_array_elements(coalesce(t.o->'items', '[]')) AS x(i)
                WHERE t.o->>'op' = 'reserve';
                SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.capacity), '{}'), coalesce(array_agg(c.held), '{}'),
                       coalesce(array_agg(c.sold), '{}'), coalesce(array_agg(c.price_cents), '{}'), coalesce(array_agg(c.take), '{}'),
                       coalesce(bool_or(c.seated), false), coalesce(bool_or(c.capacity - c.held - c.sold < c.take), false)
                INTO c_id, c_capacity, c_held, c_sold, c_price, d_take, v_seated, v_short
                FROM (SELECT tc.id, tc.capacity, tc.held, tc.sold, tc.price_cents, tc.seated,
                             coalesce((SELECT sum(x.q) FROM unnest(i_class, i_qty) AS x(c, q) WHERE x.c = tc.id), 0)::integer AS take
                      FROM ticket_classes tc WHERE tc.event_id = p_event AND tc.id = ANY (p_classes) ORDER BY tc.id) c;

                -- Still ordinary: no seats, every class known, stock for every reserve, no one over the
                -- ticket limit, no stored key (a replay or a reuse).
                IF cardinality(c_id) = 0 OR v_seated OR v_short OR NOT (i_class <@ c_id) OR v_item_ops <> v_reserves
                   OR (p_ticket_limit > 0 AND EXISTS (
                        SELECT 1
                        FROM (SELECT o_holder[x.op] AS h, sum(x.q) AS wanted FROM unnest(i_op, i_qty) AS x(op, q) GROUP BY 1) w
                        WHERE w.wanted + coalesce((SELECT sum(ri.quantity)
                                                   FROM reservations r JOIN reservation_items ri ON ri.reservation_id = r.id
                                                   WHERE r.event_id = p_event AND r.holder = w.h AND r.status IN ('held', 'confirmed')), 0)
                              > p_ticket_limit))
                   OR EXISTS (SELECT 1 FROM unnest(o_holder, o_key) AS b(h, k)
                              JOIN LATERAL (SELECT 1 FROM idempotency_keys
                                            WHERE event_id = p_event AND holder = b.h AND key = b.k LIMIT 1) ik ON true
                              WHERE b.k IS NOT NULL) THEN
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- The holds to release, as they are now (read again under the locks), and the tickets they
                -- give back per class.
                IF 'release' = ANY (o_kind) THEN
                    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.status), '{}'),
                           coalesce(array_agg(r.id) FILTER (WHERE r.status = 'held'), '{}')
                    INTO t_id, t_status, v_changed
                    FROM (SELECT r.id, r.status
                          FROM unnest(o_kind, o_holder, o_res) AS x(k, h, res)
                          JOIN reservations r ON r.id = x.res AND r.event_id = p_event AND r.holder = x.h
                          WHERE x.k = 'release' ORDER BY r.id) r;
                ELSE
                    t_id := '{}'; t_status := '{}'; v_changed := '{}';
                END IF;
                IF cardinality(v_changed) > 0 THEN
                    WITH b AS MATERIALIZED (SELECT ri.ticket_class_id AS cls, ri.quantity AS q
                                            FROM reservation_items ri WHERE ri.reservation_id = ANY (v_changed))
                    SELECT (SELECT array_agg(coalesce((SELECT sum(b.q) FROM b WHERE b.cls = c.id), 0)::integer) FROM unnest(c_id) AS c(id)),
                           NOT EXISTS (SELECT 1 FROM b WHERE b.cls <> ALL (c_id))
                    INTO d_back, v_ok;
                    IF NOT v_ok THEN
                        -- A hold with a class outside the locked set: inventory_apply_locked refuses it loudly.
                        RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                    END IF;
                ELSE
                    d_back := array_fill(0, ARRAY[cardinality(c_id)]);
                END IF;

                -- The outcomes, decided: every reserve is held; a release is 204 (also of an ended hold),
                -- 409 for a confirmed one, 404 for an unknown one or another admission's.
                SELECT jsonb_agg(CASE
                        WHEN x.k = 'reserve' THEN jsonb_build_object('status', 201, 'body', jsonb_build_object(
                            'reservationId', x.id, 'status', 'held',
                            'expiresAt', to_char(v_expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'items', y.items))
                        WHEN x.res = ANY (t_id) THEN CASE WHEN t_status[array_position(t_id, x.res)] = 'confirmed'
                            THEN jsonb_build_object('status', 409, 'error', 'reservation_confirmed',
                                                    'message', 'a confirmed reservation cannot be released')
                            ELSE jsonb_build_object('status', 204) END
                        ELSE jsonb_build_object('status', 404, 'error', 'reservation_not_found', 'message', 'no such reservation')
                    END ORDER BY x.n)
                INTO v_results
                FROM (SELECT t.o->>'op' AS k, t.o->>'id' AS id, t.o->>'reservation' AS res, t.n
                      FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(o, n)) x
                LEFT JOIN (SELECT z.op, jsonb_agg(jsonb_build_object('ticketClassId', z.c, 'quantity', z.q) ORDER BY z.m) AS items
                           FROM unnest(i_op, i_class, i_qty) WITH ORDINALITY AS z(op, c, q, m) GROUP BY z.op) y ON y.op = x.n;

                -- The new holds, their items and keys, before the lock: rows nobody else can see yet.
                IF v_reserves > 0 THEN
                    WITH r AS (
                        INSERT INTO reservations (id, event_id, holder, class_ids, status, expires_at)
                        SELECT p_ops -> (x.op - 1) ->> 'id', p_event, o_holder[x.op], array_agg(x.c ORDER BY x.c), 'held', v_expires
                        FROM unnest(i_op, i_class) AS x(op, c) GROUP BY x.op),
                    i AS (
                        INSERT INTO reservation_items (reservation_id, event_id, ticket_class_id, quantity, price_cents)
                        SELECT p_ops -> (x.op - 1) ->> 'id', p_event, x.c, x.q, c_price[array_position(c_id, x.c)]
                        FROM unnest(i_op, i_class, i_qty) AS x(op, c, q))
                    INSERT INTO idempotency_keys (event_id, holder, key, request_hash, status_code, response)
                    SELECT p_event, o_holder[x.n], o_key[x.n], p_ops -> (x.n::integer - 1) ->> 'hash', 201, v_results -> (x.n::integer - 1)
                    FROM unnest(o_kind) WITH ORDINALITY AS x(k, n) WHERE x.k = 'reserve';
                END IF;

                -- The class locks (sorted), then: is everything read above still so?
                v_t0 := clock_timestamp();
                SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.capacity), '{}'), coalesce(array_agg(c.held), '{}'),
                       coalesce(array_agg(c.sold), '{}'), coalesce(array_agg(c.price_cents), '{}')
                INTO l_id, l_capacity, l_held, l_sold, l_price
                FROM (SELECT id, capacity, held, sold, price_cents FROM ticket_classes
                      WHERE event_id = p_event AND id = ANY (p_classes) ORDER BY id FOR UPDATE) c;
                v_waited := v_waited + (clock_timestamp() - v_t0);
                v_ok := l_id = c_id AND l_price = c_price
                        AND NOT EXISTS (SELECT 1 FROM unnest(l_capacity, l_held, l_sold, d_take) AS x(cap, h, s, d) WHERE cap - h - s < d)
                        AND (cardinality(t_id) = 0 OR (SELECT count(*) FROM unnest(t_id, t_status) AS x(id, st)
                                                       JOIN reservations r ON r.id = x.id AND r.status = x.st) = cardinality(t_id));
                IF NOT v_ok THEN
                    IF v_reserves > 0 THEN
                        DELETE FROM idempotency_keys k USING unnest(o_kind, o_holder, o_key) AS x(kind, h, key)
                        WHERE x.kind = 'reserve' AND k.event_id = p_event AND k.holder = x.h AND k.key = x.key;
                        DELETE FROM reservations WHERE id IN (SELECT p_ops -> (x.op - 1) ->> 'id' FROM unnest(i_op) AS x(op));
                    END IF;
                    RETURN inventory_apply_locked(p_event, p_classes, p_ops, p_hold_seconds, p_ticket_limit);
                END IF;

                -- Under the locks: the released holds and the counters, in one statement.
                WITH released AS (
                    UPDATE reservations SET status = 'released', updated_at = now() WHERE id = ANY (v_changed)),
                counters AS (
                    UPDATE ticket_classes tc SET held = tc.held + x.d - x.b
                    FROM unnest(c_id, d_take, d_back) AS x(id, d, b)
                    WHERE tc.event_id = p_event AND tc.id = x.id AND x.d <> x.b)
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'capacity', x.cap, 'held', x.h + x.d - x.b, 'sold', x.s)), '[]')
                INTO v_classes FROM unnest(l_id, l_capacity, l_held, l_sold, d_take, d_back) AS x(id, cap, h, s, d, b);
                RETURN jsonb_build_object(
                    'lockWaitMicros', floor(extract(epoch FROM v_waited) * 1000000)::bigint,
                    'results', v_results, 'classes', v_classes);
            END
            $f$;
            """),
    ]
}
