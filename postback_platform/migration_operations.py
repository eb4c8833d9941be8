"""Migration building blocks shared by several apps."""

from django.db import migrations


def drop_foreign_key_indexes(app_label: str, model_name: str, *field_names: str) -> migrations.RunPython:
    """Drop the index Django made on each bare foreign-key column, leaving the constraint alone.

    Pair it with ``AlterField(db_index=False)`` in the state only: run as a
    database operation, that AlterField drops and re-adds the foreign key
    (a validation scan of the whole table under lock) and, for a column in a
    partial unique index such as ``one_first_deposit_per_player``, drops
    that index without making it again.
    """

    def names(schema_editor, model) -> list[tuple[object, str]]:
        found = []
        for field in (model._meta.get_field(name) for name in field_names):
            found.append((field, schema_editor._create_index_name(model._meta.db_table, [field.column])))
            if schema_editor.connection.vendor == "postgresql":
                found.append((field, schema_editor._create_index_name(model._meta.db_table, [field.column], "_like")))
        return found

    def forward(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        for _, name in names(schema_editor, model):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def backward(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        for field in (model._meta.get_field(name) for name in field_names):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
            like = getattr(schema_editor, "_create_like_index_sql", None)
            if like is not None and (statement := like(model, field)) is not None:
                schema_editor.execute(statement)

    return migrations.RunPython(forward, backward)
