import Postgres

/// The Orders' schema, after the Inventory's (it extends the `orders` table that confirmation
/// writes). Never edit an applied migration: add a new one.
public enum OrdersMigrations {
    public static let all: [Migration] = [
        Migration(version: 3, name: "order saga, tickets, outbox, payment simulator", sql: """
            -- The order saga: the `orders` row (written by confirmation) is the saga's state.
            ALTER TABLE orders
                ADD COLUMN payment_id        text UNIQUE,
                ADD COLUMN deadline          timestamptz,
                ADD COLUMN lease_owner       text,
                ADD COLUMN lease_until       timestamptz,
                ADD COLUMN attempts          integer NOT NULL DEFAULT 0,
                ADD COLUMN next_attempt_at   timestamptz NOT NULL DEFAULT now(),
                ADD COLUMN failure_reason    text,
                ADD COLUMN refund            text CHECK (refund IN ('pending', 'done')),
                ADD COLUMN needs_attention   boolean NOT NULL DEFAULT false,
                ADD CONSTRAINT orders_status CHECK (status IN
                    ('pending', 'awaiting_payment', 'paid', 'completed', 'cancelled', 'refunded'));
            -- What a coordinator may claim: new orders, paid ones, overdue payments, pending refunds.
            CREATE INDEX orders_due ON orders (next_attempt_at)
                WHERE NOT needs_attention AND (status IN ('pending', 'paid', 'awaiting_payment') OR refund = 'pending');

            CREATE TABLE order_tickets (
                code            text PRIMARY KEY,
                order_id        text NOT NULL REFERENCES orders (id),
                ticket_class_id text NOT NULL,
                seat_id         text
            );
            CREATE INDEX order_tickets_order ON order_tickets (order_id);

            -- Every state change commits with an outbox row; the relay delivers them at least once.
            CREATE TABLE outbox (
                id           bigserial PRIMARY KEY,
                topic        text NOT NULL,
                payload      jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                attempts     integer NOT NULL DEFAULT 0,
                next_attempt_at timestamptz NOT NULL DEFAULT now(),
                delivered_at timestamptz
            );
            CREATE INDEX outbox_undelivered ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

            -- The built-in payment simulator's ledger (its own tables, as a provider's would be).
            CREATE TABLE sim_payments (
                id           text PRIMARY KEY,
                order_id     text NOT NULL UNIQUE,
                amount_cents bigint NOT NULL,
                outcome      text NOT NULL CHECK (outcome IN ('approve', 'decline', 'timeout')),
                status       text NOT NULL DEFAULT 'created',
                charges      integer NOT NULL DEFAULT 0,
                refunds      integer NOT NULL DEFAULT 0,
                created_at   timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE sim_deliveries (
                id           bigserial PRIMARY KEY,
                payment_id   text NOT NULL REFERENCES sim_payments (id),
                deliver_at   timestamptz NOT NULL,
                attempts     integer NOT NULL DEFAULT 0,
                delivered_at timestamptz
            );
            CREATE INDEX sim_deliveries_due ON sim_deliveries (deliver_at) WHERE delivered_at IS NULL;

            -- Wake coordinators when confirmation writes an order (they also poll).
            CREATE FUNCTION orders_notify() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN
                PERFORM pg_notify('waitroom_orders', '');
                RETURN NULL;
            END
            $f$;
            CREATE TRIGGER orders_created AFTER INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION orders_notify();

            -- One saga transition, atomic with its outbox row. `p_owner` fences it: a coordinator
            -- whose lease is gone changes nothing (webhooks pass NULL: they lock the row instead).
            -- With `p_release` the tickets go back to stock (sold -> available, seats freed, the
            -- reservation released), taking the Inventory's locks in its order: classes, then the
            -- reservation, then the order. Returns 'ok', 'skipped' (not in an expected state) or
            -- 'fenced'.
            CREATE FUNCTION orders_transition(p_order text, p_owner text, p_expect text[], p_status text,
                                              p_release boolean, p_reason text, p_refund text, p_topic text)
            RETURNS text LANGUAGE plpgsql AS $f$
            DECLARE
                v_res     record;
                v_order   record;
                v_row     record;
            BEGIN
                SELECT r.id, r.event_id, r.class_ids INTO v_res
                FROM orders o JOIN reservations r ON r.id = o.reservation_id WHERE o.id = p_order;
                IF NOT FOUND THEN RETURN 'skipped'; END IF;
                IF p_release THEN
                    PERFORM 1 FROM ticket_classes WHERE event_id = v_res.event_id AND id = ANY (v_res.class_ids)
                    ORDER BY id FOR UPDATE;
                    PERFORM 1 FROM reservations WHERE id = v_res.id FOR UPDATE;
                END IF;
                SELECT * INTO v_order FROM orders WHERE id = p_order FOR UPDATE;
                IF NOT (v_order.status = ANY (p_expect)) THEN RETURN 'skipped'; END IF;
                IF p_owner IS NOT NULL AND (v_order.lease_owner IS DISTINCT FROM p_owner OR v_order.lease_until < clock_timestamp()) THEN
                    RETURN 'fenced';
                END IF;
                IF p_release THEN
                    FOR v_row IN SELECT ticket_class_id, quantity FROM reservation_items WHERE reservation_id = v_res.id LOOP
                        UPDATE ticket_classes SET sold = sold - v_row.quantity
                        WHERE event_id = v_res.event_id AND id = v_row.ticket_class_id;
                    END LOOP;
                    PERFORM inventory_settle_seats(ARRAY[v_res.id], 'free');
                    UPDATE reservations SET status = 'released', updated_at = now() WHERE id = v_res.id;
                END IF;
                UPDATE orders SET status = p_status, failure_reason = coalesce(p_reason, failure_reason),
                    refund = coalesce(p_refund, refund), updated_at = now(),
                    lease_owner = NULL, lease_until = NULL, attempts = 0, next_attempt_at = now()
                WHERE id = p_order;
                INSERT INTO outbox (topic, payload) VALUES (p_topic, jsonb_build_object(
                    'orderId', p_order, 'status', p_status, 'reservationId', v_res.id, 'eventId', v_res.event_id,
                    'failureReason', coalesce(p_reason, v_order.failure_reason), 'at', inventory_time(now())));
                PERFORM pg_notify('waitroom_orders', '');
                RETURN 'ok';
            END
            $f$;

            -- Completion: issues one unguessable code per ticket (per seat for assigned seating) and
            -- marks the order completed, fenced on the lease, with its outbox row.
            CREATE FUNCTION orders_complete(p_order text, p_owner text) RETURNS text LANGUAGE plpgsql AS $f$
            DECLARE
                v_order record;
            BEGIN
                SELECT * INTO v_order FROM orders WHERE id = p_order FOR UPDATE;
                IF NOT FOUND OR v_order.status <> 'paid' THEN RETURN 'skipped'; END IF;
                IF v_order.lease_owner IS DISTINCT FROM p_owner OR v_order.lease_until < clock_timestamp() THEN
                    RETURN 'fenced';
                END IF;
                INSERT INTO order_tickets (code, order_id, ticket_class_id, seat_id)
                SELECT 'T' || upper(replace(gen_random_uuid()::text, '-', '')), p_order, t.ticket_class_id, t.seat_id
                FROM (
                    SELECT ri.ticket_class_id, NULL::text AS seat_id
                    FROM reservation_items ri, generate_series(1, ri.quantity)
                    WHERE ri.reservation_id = v_order.reservation_id
                      AND NOT EXISTS (SELECT 1 FROM reservation_seats rs WHERE rs.reservation_id = ri.reservation_id
                                      AND rs.ticket_class_id = ri.ticket_class_id)
                    UNION ALL
                    SELECT rs.ticket_class_id, rs.seat_id FROM reservation_seats rs
                    WHERE rs.reservation_id = v_order.reservation_id AND rs.live
                ) t;
                UPDATE orders SET status = 'completed', updated_at = now(), lease_owner = NULL, lease_until = NULL,
                    attempts = 0 WHERE id = p_order;
                INSERT INTO outbox (topic, payload) VALUES ('order.completed', jsonb_build_object(
                    'orderId', p_order, 'status', 'completed', 'reservationId', v_order.reservation_id,
                    'eventId', v_order.event_id, 'holder', v_order.holder, 'at', inventory_time(now()),
                    'tickets', (SELECT jsonb_agg(jsonb_build_object('code', code, 'ticketClassId', ticket_class_id) ORDER BY code)
                                FROM order_tickets WHERE order_id = p_order)));
                RETURN 'ok';
            END
            $f$;
            """),
    ]
}
