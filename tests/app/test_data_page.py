"""Data page: samples, uploads, intake errors as messages, and role edits."""


def test_empty_state_invites_upload(app):
    at = app()
    assert at.title[0].value == "Data"
    assert any("Upload a file or load a sample" in info.value for info in at.info)


def test_load_text_sample_shows_preview_and_roles(app):
    at = app()
    at.selectbox[0].set_value("support_requests")
    at.button(key="load_sample").click().run()
    assert not at.exception
    assert at.subheader[0].value == "support_requests"
    assert any("treated as **text**" in md.value for md in at.markdown)
    roles = at.data_editor[0].value
    assert dict(zip(roles["column"], roles["role"])) == {"text": "text", "topic": "label"}


def test_upload_csv_table(app):
    at = app()
    csv = b"age,job,income\n42,nurse,51000\n35,teacher,43000\n51,nurse,60000\n29,driver,30000\n"
    at.file_uploader[0].set_value(("people.csv", csv, "text/csv")).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "people"
    assert any("treated as **table**" in md.value for md in at.markdown)


def test_bad_upload_shows_message_and_keeps_previous_data(app):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    at.file_uploader[0].set_value(("broken.csv", b"\x89PNG\r\n\x1a\n\x00\x00binary", "text/csv")).run()
    assert not at.exception
    assert at.error and "broken.csv" in at.error[0].value
    assert at.subheader[0].value == "penguins"  # what the analyst had is still there


def test_switching_kind_to_text_without_text_column_is_refused(app):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    at.radio[0].set_value("text")
    at.button[-1].click().run()  # Apply roles (the form's submit button)
    assert not at.exception
    assert at.error and "no column is marked 'text'" in at.error[0].value


def test_one_role_for_many_columns_at_once(app):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    at.multiselect(key="bulk-columns").set_value(["bill_length_mm", "bill_depth_mm", "island"])
    at.selectbox(key="bulk-role").set_value("ignore")
    at.button[-2].click().run()  # Set role (the bulk form's submit button)
    assert not at.exception and not at.error
    roles = dict(zip(at.data_editor[0].value["column"], at.data_editor[0].value["role"]))
    assert roles["bill_length_mm"] == roles["bill_depth_mm"] == roles["island"] == "ignore"
    assert roles["flipper_length_mm"] == "numeric"


def test_a_bulk_role_that_leaves_nothing_to_cluster_is_refused_and_keeps_the_roles(app):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    before = dict(zip(at.data_editor[0].value["column"], at.data_editor[0].value["role"]))
    at.multiselect(key="bulk-columns").set_value([c for c, r in before.items() if r != "label"])
    at.selectbox(key="bulk-role").set_value("ignore")
    at.button[-2].click().run()
    assert not at.exception
    assert at.error and "No usable feature column" in at.error[0].value
    assert dict(zip(at.data_editor[0].value["column"], at.data_editor[0].value["role"])) == before
