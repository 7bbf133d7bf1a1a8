import Inventory
import Orders
import Postgres

/// Every migration of the server's database, in order: the Inventory's, then the Orders'.
enum DatabaseSchema {
    static let migrations: [Migration] = InventoryMigrations.all + OrdersMigrations.all
}
