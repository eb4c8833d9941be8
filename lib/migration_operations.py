"""Migration building blocks shared by several apps."""

from django.db import migrations


def foreign_key_index_names(schema_editor, model, field) -> list[str]:
    """The names Django gives a bare foreign key's index and, on PostgreSQL, its LIKE-capable twin."""
    names = [schema_editor._create_index_name(model._meta.db_table, [field.column])]
    if schema_editor.connection.vendor == "postgresql":
        names.append(schema_editor._create_index_name(model._meta.db_table, [field.column], "_like"))
    return names


def drop_foreign_key_indexes(app_label: str, model_name: str, *field_names: str) -> migrations.RunPython:
    """Drop the index Django made on each bare foreign-key column, leaving the constraint alone.

    Pair it with ``AlterField(db_index=False)`` in the state only: run as a
    database operation, that AlterField drops and re-adds the foreign key
    (a validation scan of the whole table under lock) and, for a column in a
    partial unique index such as ``one_first_deposit_per_player``, drops
    that index without making it again. On PostgreSQL the indexes go (and
    come back) CONCURRENTLY, so ingest and sending carry on meanwhile: the
    migration using this must say ``atomic = False``.
    """

    def fields(apps):
        model = apps.get_model(app_label, model_name)
        return model, [model._meta.get_field(name) for name in field_names]

    def forward(apps, schema_editor):
        model, found = fields(apps)
        concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
        for field in found:
            for name in foreign_key_index_names(schema_editor, model, field):
                schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}")

    def backward(apps, schema_editor):
        model, found = fields(apps)
        postgresql = schema_editor.connection.vendor == "postgresql"
        for field in found:
            if not postgresql:
                schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
                continue
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], concurrently=True))
            if field.db_type(schema_editor.connection).startswith("varchar"):
                schema_editor.execute(schema_editor._create_index_sql(
                    model, fields=[field], suffix="_like", opclasses=["varchar_pattern_ops"], concurrently=True,
                ))

    return migrations.RunPython(forward, backward)


class AddIndexWithoutLocking(migrations.AddIndex):
    """``AddIndex`` that builds the index CONCURRENTLY on PostgreSQL, plainly elsewhere.

    A plain CREATE INDEX on a table of tens of millions of rows blocks its inserts for the whole build:
    ingest would stall. The migration using this must say ``atomic = False``.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_concurrently(schema_editor))


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
