"""Whatever JSON arrives, the API answers with a 4xx in the error shape or a success: never a 500."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
field_names = st.sampled_from(["email", "name", "phone", "referral_code", "referrer_id", "referee_email",
                               "referee_name", "referee_phone", "note"])
bodies = json_values | st.dictionaries(field_names, json_values, max_size=6)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=bodies, path=st.sampled_from(["/api/v1/customers", "/api/v1/referrals"]))
def test_post_never_answers_500(api_as, body, path):
    response = api_as("coordinator").post(path, json=body)
    assert response.status_code in (201, 400, 404, 409, 422), (body, response.json)
    if response.status_code >= 400:
        assert set(response.json) == {"code", "status", "message", "errors"}


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["status", "referrer_id", "page", "page_size"]),
                             st.text(max_size=12), max_size=4))
def test_list_filters_never_answer_500(api_as, query):
    response = api_as("coordinator").get("/api/v1/referrals", query_string=query)
    assert response.status_code in (200, 422), response.json
