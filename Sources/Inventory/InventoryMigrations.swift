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
            CREATE TABLE reservations (
                id         text PRIMARY KEY,
                event_id   text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
                holder     bigint NOT NULL,
                class_ids  text[] NOT NULL,
                status     text NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
                expires_at timestamptz NOT NULL,
                order_id   text UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'held';
            CREATE INDEX reservations_holder ON reservations (event_id, holder);

            CREATE TABLE reservation_items (
                reservation_id  text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
                event_id        text NOT NULL,
                ticket_class_id text NOT NULL,
                quantity        integer NOT NULL CHECK (quantity > 0),
                price_cents     bigint NOT NULL CHECK (price_cents >= 0),
                PRIMARY KEY (reservation_id, ticket_class_id),
                FOREIGN KEY (event_id, ticket_class_id) REFERENCES ticket_classes (event_id, id)
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

            -- Takes `p_count` free seats of a class for a reservation, row by row from a random
            -- start (wrapping around), skipping seats another transaction has locked.
            CREATE FUNCTION inventory_take_seats(p_event text, p_class text, p_count integer, p_reservation text)
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
                INSERT INTO reservation_seats (reservation_id, event_id, ticket_class_id, seat_id)
                SELECT p_reservation, p_event, p_class, unnest(v_taken);
                RETURN v_taken;
            END
            $f$;

            -- Gives a reservation's seats back (released or expired) or marks them sold.
            CREATE FUNCTION inventory_settle_seats(p_reservation text, p_state text) RETURNS void LANGUAGE plpgsql AS $f$
            BEGIN
                UPDATE seats s SET state = p_state
                FROM reservation_seats rs
                WHERE rs.reservation_id = p_reservation AND rs.live
                  AND s.event_id = rs.event_id AND s.ticket_class_id = rs.ticket_class_id AND s.id = rs.seat_id;
                IF p_state = 'free' THEN
                    UPDATE reservation_seats SET live = false WHERE reservation_id = p_reservation AND live;
                END IF;
            END
            $f$;

            -- One batch of reserve, release and confirm operations on one set of ticket classes of
            -- an event, in one transaction, in arrival order (first come, first served). Locks: the
            -- holders of keyed operations (advisory, sorted), then the class rows (sorted by id);
            -- every writer takes them in that order, so batches cannot deadlock. The counters are
            -- written once per class at the end. Returns the outcome of each operation, the classes'
            -- stock after the batch and how long the locks took.
            CREATE FUNCTION inventory_apply(p_event text, p_classes text[], p_ops jsonb,
                                            p_hold_seconds integer, p_ticket_limit integer)
            RETURNS jsonb LANGUAGE plpgsql AS $f$
            DECLARE
                v_started  timestamptz := clock_timestamp();
                v_locked   timestamptz;
                v_ids      text[] := '{}';
                v_capacity integer[] := '{}';
                v_held     integer[] := '{}';
                v_sold     integer[] := '{}';
                v_dheld    integer[] := '{}';
                v_dsold    integer[] := '{}';
                v_price    bigint[] := '{}';
                v_seated   boolean[] := '{}';
                v_row      record;
                v_op       jsonb;
                v_item     jsonb;
                v_results  jsonb := '[]';
                v_classes  jsonb := '[]';
                v_result   jsonb;
                v_items    jsonb;
                v_idx      integer;
                v_qty      integer;
                v_short    boolean;
                v_holder   bigint;
                v_key      text;
                v_id       text;
                v_prev     record;
                v_res      record;
                v_used     bigint;
                v_wanted   bigint;
                v_amount   bigint;
                v_seats    text[];
                v_anyseat  boolean;
                v_expires  timestamptz := now() + make_interval(secs => p_hold_seconds);
            BEGIN
                FOR v_holder IN
                    SELECT DISTINCT (o->>'holder')::bigint FROM jsonb_array_elements(p_ops) o
                    WHERE o->>'key' IS NOT NULL ORDER BY 1
                LOOP
                    PERFORM pg_advisory_xact_lock(hashtextextended(p_event || '/' || v_holder::text, 7));
                END LOOP;
                FOR v_row IN
                    SELECT id, capacity, held, sold, price_cents, seated FROM ticket_classes
                    WHERE event_id = p_event AND id = ANY (p_classes) ORDER BY id FOR UPDATE
                LOOP
                    v_ids := v_ids || v_row.id;
                    v_capacity := v_capacity || v_row.capacity;
                    v_held := v_held || v_row.held;
                    v_sold := v_sold || v_row.sold;
                    v_dheld := v_dheld || 0;
                    v_dsold := v_dsold || 0;
                    v_price := v_price || v_row.price_cents;
                    v_seated := v_seated || v_row.seated;
                END LOOP;
                v_locked := clock_timestamp();

                FOR v_op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
                    v_holder := (v_op->>'holder')::bigint;
                    v_key := v_op->>'key';
                    v_result := NULL;
                    IF v_key IS NOT NULL THEN
                        SELECT request_hash, response INTO v_prev FROM idempotency_keys
                        WHERE event_id = p_event AND holder = v_holder AND key = v_key;
                        IF FOUND THEN
                            IF v_prev.request_hash = v_op->>'hash' THEN
                                v_result := v_prev.response || '{"replayed": true}';
                            ELSE
                                v_result := jsonb_build_object('status', 422, 'error', 'idempotency_key_reused',
                                    'message', 'this Idempotency-Key was used with a different request');
                            END IF;
                            v_results := v_results || jsonb_build_array(v_result);
                            CONTINUE;
                        END IF;
                    END IF;

                    IF v_op->>'op' = 'reserve' THEN
                        v_id := v_op->>'id';
                        v_wanted := 0;
                        v_short := false;
                        FOR v_item IN SELECT value FROM jsonb_array_elements(v_op->'items') LOOP
                            v_idx := array_position(v_ids, v_item->>'c');
                            IF v_idx IS NULL THEN
                                v_result := jsonb_build_object('status', 422, 'error', 'invalid_items',
                                    'message', format('the event has no ticket class %s', v_item->>'c'));
                                EXIT;
                            END IF;
                            v_qty := (v_item->>'q')::integer;
                            v_wanted := v_wanted + v_qty;
                            IF v_capacity[v_idx] - v_held[v_idx] - v_sold[v_idx] < v_qty THEN v_short := true; END IF;
                        END LOOP;
                        IF v_result IS NULL AND p_ticket_limit > 0 THEN
                            SELECT coalesce(sum(ri.quantity), 0) INTO v_used
                            FROM reservations r JOIN reservation_items ri ON ri.reservation_id = r.id
                            WHERE r.event_id = p_event AND r.holder = v_holder AND r.status IN ('held', 'confirmed');
                            IF v_used + v_wanted > p_ticket_limit THEN
                                v_result := jsonb_build_object('status', 409, 'error', 'ticket_limit_exceeded',
                                    'message', format('at most %s tickets per admission; %s already reserved', p_ticket_limit, v_used));
                            END IF;
                        END IF;
                        IF v_result IS NULL AND v_short THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'insufficient_inventory',
                                'message', 'not enough tickets left in a requested class');
                        END IF;
                        IF v_result IS NULL THEN
                            INSERT INTO reservations (id, event_id, holder, class_ids, status, expires_at)
                            VALUES (v_id, p_event, v_holder,
                                    ARRAY(SELECT DISTINCT i->>'c' FROM jsonb_array_elements(v_op->'items') i ORDER BY 1),
                                    'held', v_expires);
                            v_items := '[]';
                            FOR v_item IN SELECT value FROM jsonb_array_elements(v_op->'items') LOOP
                                v_idx := array_position(v_ids, v_item->>'c');
                                v_qty := (v_item->>'q')::integer;
                                v_held[v_idx] := v_held[v_idx] + v_qty;
                                v_dheld[v_idx] := v_dheld[v_idx] + v_qty;
                                INSERT INTO reservation_items (reservation_id, event_id, ticket_class_id, quantity, price_cents)
                                VALUES (v_id, p_event, v_item->>'c', v_qty, v_price[v_idx]);
                                IF v_seated[v_idx] THEN
                                    v_seats := inventory_take_seats(p_event, v_item->>'c', v_qty, v_id);
                                    v_items := v_items || jsonb_build_array(jsonb_build_object(
                                        'ticketClassId', v_item->>'c', 'quantity', v_qty, 'seats', to_jsonb(v_seats)));
                                ELSE
                                    v_items := v_items || jsonb_build_array(jsonb_build_object(
                                        'ticketClassId', v_item->>'c', 'quantity', v_qty));
                                END IF;
                            END LOOP;
                            v_result := jsonb_build_object('status', 201, 'body', jsonb_build_object(
                                'reservationId', v_id, 'status', 'held', 'expiresAt', inventory_time(v_expires),
                                'items', v_items));
                        END IF;

                    ELSIF v_op->>'op' IN ('release', 'confirm') THEN
                        v_id := v_op->>'reservation';
                        SELECT status, holder, expires_at, order_id INTO v_res FROM reservations
                        WHERE id = v_id AND event_id = p_event FOR UPDATE;
                        IF NOT FOUND OR v_res.holder <> v_holder THEN
                            v_results := v_results || jsonb_build_array(jsonb_build_object('status', 404,
                                'error', 'reservation_not_found', 'message', 'no such reservation'));
                            CONTINUE;   -- not stored under the key: nothing happened
                        END IF;
                        IF v_res.status = 'held' AND (v_op->>'op' = 'release' OR v_res.expires_at <= clock_timestamp()) THEN
                            -- Give the tickets back: a release, or a confirm that came too late.
                            v_anyseat := false;
                            FOR v_row IN SELECT ticket_class_id, quantity FROM reservation_items WHERE reservation_id = v_id LOOP
                                v_idx := array_position(v_ids, v_row.ticket_class_id);
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', v_id;
                                END IF;
                                v_held[v_idx] := v_held[v_idx] - v_row.quantity;
                                v_dheld[v_idx] := v_dheld[v_idx] - v_row.quantity;
                                v_anyseat := v_anyseat OR v_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN PERFORM inventory_settle_seats(v_id, 'free'); END IF;
                            UPDATE reservations
                            SET status = CASE WHEN v_op->>'op' = 'release' THEN 'released' ELSE 'expired' END, updated_at = now()
                            WHERE id = v_id;
                            v_res.status := CASE WHEN v_op->>'op' = 'release' THEN 'released' ELSE 'expired' END;
                            IF v_op->>'op' = 'release' THEN
                                v_result := jsonb_build_object('status', 204);
                            END IF;
                        END IF;
                        IF v_result IS NOT NULL THEN
                            NULL;
                        ELSIF v_op->>'op' = 'release' THEN
                            IF v_res.status = 'confirmed' THEN
                                v_result := jsonb_build_object('status', 409, 'error', 'reservation_confirmed',
                                    'message', 'a confirmed reservation cannot be released');
                            ELSE
                                v_result := jsonb_build_object('status', 204);   -- already released or expired
                            END IF;
                        ELSIF v_res.status = 'expired' THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'reservation_expired',
                                'message', 'the hold expired before it was confirmed');
                        ELSIF v_res.status = 'released' THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'reservation_released',
                                'message', 'the hold was released');
                        ELSIF v_res.status = 'confirmed' THEN
                            v_result := jsonb_build_object('status', 202, 'body', jsonb_build_object(
                                'orderId', v_res.order_id,
                                'status', (SELECT status FROM orders WHERE id = v_res.order_id)));
                        ELSE
                            v_amount := 0;
                            v_anyseat := false;
                            FOR v_row IN SELECT ticket_class_id, quantity, price_cents FROM reservation_items WHERE reservation_id = v_id LOOP
                                v_idx := array_position(v_ids, v_row.ticket_class_id);
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', v_id;
                                END IF;
                                v_held[v_idx] := v_held[v_idx] - v_row.quantity;
                                v_dheld[v_idx] := v_dheld[v_idx] - v_row.quantity;
                                v_sold[v_idx] := v_sold[v_idx] + v_row.quantity;
                                v_dsold[v_idx] := v_dsold[v_idx] + v_row.quantity;
                                v_amount := v_amount + v_row.quantity * v_row.price_cents;
                                v_anyseat := v_anyseat OR v_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN PERFORM inventory_settle_seats(v_id, 'sold'); END IF;
                            UPDATE reservations SET status = 'confirmed', order_id = v_op->>'orderId', updated_at = now()
                            WHERE id = v_id;
                            INSERT INTO orders (id, reservation_id, event_id, holder, amount_cents, payment_method, simulate)
                            VALUES (v_op->>'orderId', v_id, p_event, v_holder, v_amount,
                                    v_op #>> '{payment,method}', v_op #>> '{payment,simulate}');
                            v_result := jsonb_build_object('status', 202, 'body', jsonb_build_object(
                                'orderId', v_op->>'orderId', 'status', 'pending'));
                        END IF;
                    ELSE
                        RAISE EXCEPTION 'unknown inventory operation %', v_op->>'op';
                    END IF;

                    IF v_key IS NOT NULL AND (v_result->>'status')::integer <> 404 THEN
                        INSERT INTO idempotency_keys (event_id, holder, key, request_hash, status_code, response)
                        VALUES (p_event, v_holder, v_key, v_op->>'hash', (v_result->>'status')::integer, v_result);
                    END IF;
                    v_results := v_results || jsonb_build_array(v_result);
                END LOOP;

                FOR v_idx IN 1 .. coalesce(array_length(v_ids, 1), 0) LOOP
                    IF v_dheld[v_idx] <> 0 OR v_dsold[v_idx] <> 0 THEN
                        UPDATE ticket_classes SET held = held + v_dheld[v_idx], sold = sold + v_dsold[v_idx]
                        WHERE event_id = p_event AND id = v_ids[v_idx];
                    END IF;
                    v_classes := v_classes || jsonb_build_array(jsonb_build_object('id', v_ids[v_idx],
                        'capacity', v_capacity[v_idx], 'held', v_held[v_idx], 'sold', v_sold[v_idx]));
                END LOOP;
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
                v_id         text;
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
                FOREACH v_id IN ARRAY v_expired LOOP
                    PERFORM inventory_settle_seats(v_id, 'free');
                END LOOP;
                RETURN cardinality(v_expired);
            END
            $f$;
            """),
    ]
}
