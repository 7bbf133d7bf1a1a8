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
    ]
}
