"""An exact rollup described once (source table, key expressions, summed expression, which rows), and
the SQL that keeps it exact: the table, the first fill from existing rows, the writer's per-transaction
refresh of new rows (one grouped upsert), and the delete/update triggers that subtract what retention
or a hand-typed statement removes. Key columns hold '' for NULL (a primary key treats NULLs as distinct).
The migrations hold their own frozen copies of create() and triggers() (store/sqlite/migrations/);
the running writer uses refresh(), and tests check that refresh() and triggers() keep one rollup."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rollup:
    name: str
    source: str  # metrics | events
    keys: tuple[tuple[str, str], ...]  # (column, expression over the row alias {r})
    total: tuple[str, str]  # (column, summed expression over {r}, or '1' to count)
    when: str = "1"  # which rows it sums, an expression over {r}
    watched: tuple[str, ...] = ()  # source columns an UPDATE must move between groups

    def _keys(self, r: str) -> list[str]:
        return [f"COALESCE({expr.format(r=r)}, '')" for _, expr in self.keys]

    def _value(self, r: str) -> str:
        return self.total[1].format(r=r)

    def _upsert(self) -> str:
        t = self.total[0]
        return f"ON CONFLICT DO UPDATE SET {t} = {t} + excluded.{t}, records = records + excluded.records"

    def create(self) -> list[str]:
        cols = ", ".join(f"{c} {'INTEGER' if 'bucket' in c or c == 'attribute_set' else 'TEXT'} NOT NULL"
                         for c, _ in self.keys)
        pk = ", ".join(c for c, _ in self.keys)
        return [f"CREATE TABLE {self.name} ({cols}, {self.total[0]} REAL NOT NULL, records INTEGER NOT NULL,"
                f" PRIMARY KEY ({pk})) WITHOUT ROWID",
                self._select("WHERE 1")]

    def _select(self, where: str) -> str:
        groups = ", ".join(str(i + 1) for i in range(len(self.keys)))
        return (f"INSERT INTO {self.name} SELECT {', '.join(self._keys('s'))}, SUM({self._value('s')}), COUNT(*)"
                f" FROM {self.source} s {where} AND {self.when.format(r='s')} GROUP BY {groups} {self._upsert()}")

    def refresh(self) -> str:
        """The writer's statement: add the rows with id > ? (bound) in its own transaction."""
        return self._select("WHERE s.id > ?")

    def triggers(self) -> list[str]:
        match = " AND ".join(f"{c} = {k}" for (c, _), k in zip(self.keys, self._keys("OLD"), strict=True))
        subtract = (f"UPDATE {self.name} SET {self.total[0]} = {self.total[0]} - {self._value('OLD')},"
                    f" records = records - 1 WHERE {match} AND {self.when.format(r='OLD')};"
                    f" DELETE FROM {self.name} WHERE {match} AND records <= 0;")
        add = (f"INSERT INTO {self.name} SELECT {', '.join(self._keys('NEW'))}, {self._value('NEW')}, 1"
               f" WHERE {self.when.format(r='NEW')} {self._upsert()};")
        return [f"CREATE TRIGGER {self.name}_delete AFTER DELETE ON {self.source} BEGIN {subtract} END",
                f"CREATE TRIGGER {self.name}_update AFTER UPDATE OF {', '.join(self.watched)} ON {self.source}"
                f" BEGIN {subtract} {add} END"]
