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
            -- a fixed number of statements per batch reads what the operations need, the decisions
            -- are made in memory, and the writes go out as one statement per table. Returns the
            -- outcome of each operation, the classes' stock after the batch and the lock wait.
            CREATE FUNCTION inventory_apply(p_event text, p_classes text[], p_ops jsonb,
                                            p_hold_seconds integer, p_ticket_limit integer)
            RETURNS jsonb LANGUAGE plpgsql AS $f$
            DECLARE
                v_started   timestamptz := clock_timestamp();
                v_locked    timestamptz;
                v_now       timestamptz;
                v_ids       text[] := '{}';
                v_capacity  integer[] := '{}';
                v_held      integer[] := '{}';
                v_sold      integer[] := '{}';
                v_held0     integer[] := '{}';
                v_sold0     integer[] := '{}';
                v_price     bigint[] := '{}';
                v_seated    boolean[] := '{}';
                v_row       record;
                v_op        jsonb;
                v_item      jsonb;
                -- Arrays of jsonb, not jsonb arrays: PL/pgSQL appends to them in place.
                v_results   jsonb[] := '{}';
                v_classes   jsonb := '[]';
                v_result    jsonb;
                v_items     jsonb;
                v_keys      jsonb;          -- "holder/key" -> {h: request hash, r: stored outcome | i: index in this batch}
                v_usage     jsonb;          -- "holder" -> tickets held or confirmed
                v_targets   jsonb;          -- reservation id -> {holder, status, expires, order, items: [{c, q, p}]}
                v_target    jsonb;
                v_new_res   jsonb[] := '{}';
                v_new_items jsonb[] := '{}';
                v_new_seats jsonb[] := '{}';
                v_new_keys  jsonb[] := '{}';
                v_new_ord   jsonb[] := '{}';
                v_i         integer;
                v_j         integer;
                v_cids      text[];
                v_seat      text;
                v_entry     jsonb;
                v_changed   jsonb := '{}';  -- reservation id -> new status
                v_free      text[] := '{}';
                v_soldseats text[] := '{}';
                v_idx       integer;
                v_qty       integer;
                v_short     boolean;
                v_anyseat   boolean;
                v_holder    bigint;
                v_key       text;
                v_id        text;
                v_wanted    bigint;
                v_used      bigint;
                v_amount    bigint;
                v_seats     text[];
                v_status    text;
                v_expires   timestamptz := now() + make_interval(secs => p_hold_seconds);
                v_expires_text text := inventory_time(now() + make_interval(secs => p_hold_seconds));
            BEGIN
                FOR v_holder IN
                    SELECT DISTINCT (o->>'holder')::bigint FROM jsonb_array_elements(p_ops) o
                    WHERE o->>'key' IS NOT NULL ORDER BY 1
                LOOP
                    -- The schema is part of the key: advisory locks are per database, inventories per schema.
                    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || p_event || '/' || v_holder::text, 7));
                END LOOP;
                FOR v_row IN
                    SELECT id, capacity, held, sold, price_cents, seated FROM ticket_classes
                    WHERE event_id = p_event AND id = ANY (p_classes) ORDER BY id FOR UPDATE
                LOOP
                    v_ids := v_ids || v_row.id;
                    v_capacity := v_capacity || v_row.capacity;
                    v_held := v_held || v_row.held;
                    v_sold := v_sold || v_row.sold;
                    v_price := v_price || v_row.price_cents;
                    v_seated := v_seated || v_row.seated;
                END LOOP;
                v_held0 := v_held;
                v_sold0 := v_sold;
                -- The reservations this batch changes, locked, with their items.
                SELECT coalesce(jsonb_object_agg(r.id, jsonb_build_object(
                           'holder', r.holder, 'status', r.status, 'expires', r.expires_at, 'order', r.order_id,
                           'items', (SELECT jsonb_agg(jsonb_build_object('c', ri.ticket_class_id, 'q', ri.quantity, 'p', ri.price_cents))
                                     FROM reservation_items ri WHERE ri.reservation_id = r.id))), '{}')
                INTO v_targets
                FROM (SELECT id, holder, status, expires_at, order_id FROM reservations
                      WHERE event_id = p_event AND id IN (SELECT o->>'reservation' FROM jsonb_array_elements(p_ops) o
                                                          WHERE o->>'reservation' IS NOT NULL)
                      ORDER BY id FOR UPDATE) r;
                v_locked := clock_timestamp();
                v_now := v_locked;

                SELECT coalesce(jsonb_object_agg(ik.holder || '/' || ik.key,
                                                 jsonb_build_object('h', ik.request_hash, 'r', ik.response)), '{}')
                INTO v_keys
                FROM idempotency_keys ik
                JOIN (SELECT DISTINCT (o->>'holder')::bigint AS h, o->>'key' AS k FROM jsonb_array_elements(p_ops) o
                      WHERE o->>'key' IS NOT NULL) b ON ik.holder = b.h AND ik.key = b.k
                WHERE ik.event_id = p_event;
                v_usage := '{}';
                IF p_ticket_limit > 0 THEN
                    SELECT coalesce(jsonb_object_agg(u.holder::text, u.n), '{}') INTO v_usage
                    FROM (SELECT r.holder, sum(ri.quantity) AS n
                          FROM reservations r JOIN reservation_items ri ON ri.reservation_id = r.id
                          WHERE r.event_id = p_event AND r.status IN ('held', 'confirmed')
                            AND r.holder IN (SELECT DISTINCT (o->>'holder')::bigint FROM jsonb_array_elements(p_ops) o
                                             WHERE o->>'op' = 'reserve')
                          GROUP BY r.holder) u;
                END IF;

                FOR v_i IN 0 .. jsonb_array_length(p_ops) - 1 LOOP
                    v_op := p_ops -> v_i;
                    v_holder := (v_op->>'holder')::bigint;
                    v_key := v_op->>'key';
                    v_result := NULL;
                    v_entry := CASE WHEN v_key IS NULL THEN NULL ELSE v_keys -> (v_holder || '/' || v_key) END;
                    IF v_entry IS NOT NULL THEN
                        IF v_entry->>'h' = v_op->>'hash' THEN
                            v_result := coalesce(v_entry->'r', v_results[(v_entry->>'i')::integer]) || '{"replayed": true}';
                        ELSE
                            v_result := jsonb_build_object('status', 422, 'error', 'idempotency_key_reused',
                                'message', 'this Idempotency-Key was used with a different request');
                        END IF;
                        v_results := array_append(v_results, v_result);
                        CONTINUE;
                    END IF;

                    IF v_op->>'op' = 'reserve' THEN
                        v_id := v_op->>'id';
                        v_wanted := 0;
                        v_short := false;
                        FOR v_j IN 0 .. jsonb_array_length(v_op->'items') - 1 LOOP
                            v_item := v_op->'items'->v_j;
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
                        v_used := coalesce((v_usage->>v_holder::text)::bigint, 0);
                        IF v_result IS NULL AND p_ticket_limit > 0 AND v_used + v_wanted > p_ticket_limit THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'ticket_limit_exceeded',
                                'message', format('at most %s tickets per admission; %s already reserved', p_ticket_limit, v_used));
                        END IF;
                        IF v_result IS NULL AND v_short THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'insufficient_inventory',
                                'message', 'not enough tickets left in a requested class');
                        END IF;
                        IF v_result IS NULL THEN
                            v_usage := v_usage || jsonb_build_object(v_holder::text, v_used + v_wanted);
                            v_items := '[]';
                            v_cids := '{}';
                            FOR v_j IN 0 .. jsonb_array_length(v_op->'items') - 1 LOOP
                                v_item := v_op->'items'->v_j;
                                v_cids := v_cids || (v_item->>'c');
                                v_idx := array_position(v_ids, v_item->>'c');
                                v_qty := (v_item->>'q')::integer;
                                v_held[v_idx] := v_held[v_idx] + v_qty;
                                v_new_items := array_append(v_new_items, jsonb_build_object(
                                    'reservation_id', v_id, 'ticket_class_id', v_item->>'c', 'quantity', v_qty, 'price_cents', v_price[v_idx]));
                                IF v_seated[v_idx] THEN
                                    v_seats := inventory_take_seats(p_event, v_item->>'c', v_qty);
                                    FOREACH v_seat IN ARRAY v_seats LOOP
                                        v_new_seats := array_append(v_new_seats, jsonb_build_object(
                                            'reservation_id', v_id, 'ticket_class_id', v_item->>'c', 'seat_id', v_seat));
                                    END LOOP;
                                    v_items := v_items || jsonb_build_array(jsonb_build_object(
                                        'ticketClassId', v_item->>'c', 'quantity', v_qty, 'seats', to_jsonb(v_seats)));
                                ELSE
                                    v_items := v_items || jsonb_build_array(jsonb_build_object(
                                        'ticketClassId', v_item->>'c', 'quantity', v_qty));
                                END IF;
                            END LOOP;
                            v_new_res := array_append(v_new_res, jsonb_build_object('id', v_id, 'holder', v_holder, 'class_ids', v_cids));
                            v_result := jsonb_build_object('status', 201, 'body', jsonb_build_object(
                                'reservationId', v_id, 'status', 'held', 'expiresAt', v_expires_text,
                                'items', v_items));
                        END IF;

                    ELSIF v_op->>'op' IN ('release', 'confirm') THEN
                        v_id := v_op->>'reservation';
                        v_target := v_targets->v_id;
                        IF v_target IS NULL OR (v_target->>'holder')::bigint <> v_holder THEN
                            v_results := array_append(v_results, jsonb_build_object('status', 404,
                                'error', 'reservation_not_found', 'message', 'no such reservation'));
                            CONTINUE;   -- not stored under the key: nothing happened
                        END IF;
                        v_status := v_target->>'status';
                        IF v_status = 'held' AND (v_op->>'op' = 'release' OR (v_target->>'expires')::timestamptz <= v_now) THEN
                            -- Give the tickets back: a release, or a confirm that came too late.
                            v_anyseat := false;
                            FOR v_j IN 0 .. jsonb_array_length(v_target->'items') - 1 LOOP
                                v_item := v_target->'items'->v_j;
                                v_idx := array_position(v_ids, v_item->>'c');
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', v_id;
                                END IF;
                                v_held[v_idx] := v_held[v_idx] - (v_item->>'q')::integer;
                                v_anyseat := v_anyseat OR v_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN v_free := v_free || v_id; END IF;
                            v_status := CASE WHEN v_op->>'op' = 'release' THEN 'released' ELSE 'expired' END;
                            v_changed := v_changed || jsonb_build_object(v_id, v_status);
                            IF v_op->>'op' = 'release' THEN
                                v_result := jsonb_build_object('status', 204);
                            END IF;
                        END IF;
                        IF v_result IS NOT NULL THEN
                            NULL;
                        ELSIF v_op->>'op' = 'release' THEN
                            IF v_status = 'confirmed' THEN
                                v_result := jsonb_build_object('status', 409, 'error', 'reservation_confirmed',
                                    'message', 'a confirmed reservation cannot be released');
                            ELSE
                                v_result := jsonb_build_object('status', 204);   -- already released or expired
                            END IF;
                        ELSIF v_status = 'expired' THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'reservation_expired',
                                'message', 'the hold expired before it was confirmed');
                        ELSIF v_status = 'released' THEN
                            v_result := jsonb_build_object('status', 409, 'error', 'reservation_released',
                                'message', 'the hold was released');
                        ELSIF v_status = 'confirmed' THEN
                            v_result := jsonb_build_object('status', 202, 'body', jsonb_build_object(
                                'orderId', v_target->>'order',
                                'status', coalesce((SELECT status FROM orders WHERE id = v_target->>'order'), 'pending')));
                        ELSE
                            v_amount := 0;
                            v_anyseat := false;
                            FOR v_j IN 0 .. jsonb_array_length(v_target->'items') - 1 LOOP
                                v_item := v_target->'items'->v_j;
                                v_idx := array_position(v_ids, v_item->>'c');
                                IF v_idx IS NULL THEN
                                    RAISE EXCEPTION 'reservation % has a class outside the locked set', v_id;
                                END IF;
                                v_qty := (v_item->>'q')::integer;
                                v_held[v_idx] := v_held[v_idx] - v_qty;
                                v_sold[v_idx] := v_sold[v_idx] + v_qty;
                                v_amount := v_amount + v_qty * (v_item->>'p')::bigint;
                                v_anyseat := v_anyseat OR v_seated[v_idx];
                            END LOOP;
                            IF v_anyseat THEN v_soldseats := v_soldseats || v_id; END IF;
                            v_status := 'confirmed';
                            v_changed := v_changed || jsonb_build_object(v_id, v_status);
                            v_target := v_target || jsonb_build_object('order', v_op->>'orderId');
                            v_new_ord := array_append(v_new_ord, jsonb_build_object(
                                'id', v_op->>'orderId', 'reservation_id', v_id, 'holder', v_holder, 'amount_cents', v_amount,
                                'payment_method', v_op #>> '{payment,method}', 'simulate', v_op #>> '{payment,simulate}'));
                            v_result := jsonb_build_object('status', 202, 'body', jsonb_build_object(
                                'orderId', v_op->>'orderId', 'status', 'pending'));
                        END IF;
                        v_targets := jsonb_set(v_targets, ARRAY[v_id], v_target || jsonb_build_object('status', v_status));
                    ELSE
                        RAISE EXCEPTION 'unknown inventory operation %', v_op->>'op';
                    END IF;

                    IF v_key IS NOT NULL AND (v_result->>'status')::integer <> 404 THEN
                        v_keys := v_keys || jsonb_build_object(v_holder || '/' || v_key,
                                                               jsonb_build_object('h', v_op->>'hash', 'i', cardinality(v_results) + 1));
                        v_new_keys := array_append(v_new_keys, jsonb_build_object(
                            'holder', v_holder, 'key', v_key, 'request_hash', v_op->>'hash',
                            'status_code', (v_result->>'status')::integer, 'response', v_result));
                    END IF;
                    v_results := array_append(v_results, v_result);
                END LOOP;

                -- The writes, one statement per table.
                IF cardinality(v_new_res) > 0 THEN
                    INSERT INTO reservations (id, event_id, holder, class_ids, status, expires_at)
                    SELECT x.id, p_event, x.holder, ARRAY(SELECT jsonb_array_elements_text(x.class_ids) ORDER BY 1), 'held', v_expires
                    FROM jsonb_to_recordset(to_jsonb(v_new_res)) AS x(id text, holder bigint, class_ids jsonb);
                    INSERT INTO reservation_items (reservation_id, event_id, ticket_class_id, quantity, price_cents)
                    SELECT x.reservation_id, p_event, x.ticket_class_id, x.quantity, x.price_cents
                    FROM jsonb_to_recordset(to_jsonb(v_new_items)) AS x(reservation_id text, ticket_class_id text, quantity integer, price_cents bigint);
                    IF cardinality(v_new_seats) > 0 THEN
                        INSERT INTO reservation_seats (reservation_id, event_id, ticket_class_id, seat_id)
                        SELECT x.reservation_id, p_event, x.ticket_class_id, x.seat_id
                        FROM jsonb_to_recordset(to_jsonb(v_new_seats)) AS x(reservation_id text, ticket_class_id text, seat_id text);
                    END IF;
                END IF;
                IF v_changed <> '{}' THEN
                    UPDATE reservations r SET status = c.value #>> '{}', updated_at = now(),
                        order_id = coalesce(r.order_id, v_targets #>> ARRAY[r.id, 'order'])
                    FROM jsonb_each(v_changed) c WHERE r.id = c.key;
                END IF;
                IF cardinality(v_free) > 0 THEN PERFORM inventory_settle_seats(v_free, 'free'); END IF;
                IF cardinality(v_soldseats) > 0 THEN PERFORM inventory_settle_seats(v_soldseats, 'sold'); END IF;
                IF cardinality(v_new_ord) > 0 THEN
                    INSERT INTO orders (id, reservation_id, event_id, holder, amount_cents, payment_method, simulate)
                    SELECT x.id, x.reservation_id, p_event, x.holder, x.amount_cents, x.payment_method, x.simulate
                    FROM jsonb_to_recordset(to_jsonb(v_new_ord))
                         AS x(id text, reservation_id text, holder bigint, amount_cents bigint, payment_method text, simulate text);
                END IF;
                IF cardinality(v_new_keys) > 0 THEN
                    INSERT INTO idempotency_keys (event_id, holder, key, request_hash, status_code, response)
                    SELECT p_event, x.holder, x.key, x.request_hash, x.status_code, x.response
                    FROM jsonb_to_recordset(to_jsonb(v_new_keys)) AS x(holder bigint, key text, request_hash text, status_code integer, response jsonb);
                END IF;
                FOR v_idx IN 1 .. coalesce(array_length(v_ids, 1), 0) LOOP
                    IF v_held[v_idx] <> v_held0[v_idx] OR v_sold[v_idx] <> v_sold0[v_idx] THEN
                        UPDATE ticket_classes
                        SET held = held + (v_held[v_idx] - v_held0[v_idx]), sold = sold + (v_sold[v_idx] - v_sold0[v_idx])
                        WHERE event_id = p_event AND id = v_ids[v_idx];
                    END IF;
                    v_classes := v_classes || jsonb_build_array(jsonb_build_object('id', v_ids[v_idx],
                        'capacity', v_capacity[v_idx], 'held', v_held[v_idx], 'sold', v_sold[v_idx]));
                END LOOP;
                RETURN jsonb_build_object(
                    'lockWaitMicros', floor(extract(epoch FROM v_locked - v_started) * 1000000)::bigint,
                    'results', to_jsonb(v_results), 'classes', v_classes);
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
    ]
}
