import re
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from partners import templating

values_text = st.text(max_size=40)
# Values that probe every URL rule: separators, dots, percent signs, non-ASCII, the empty string.
url_values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="./%?#&=+~-_ aé日\u0000", max_size=6),
    st.sampled_from([".", "..", "%2e%2e", "%2E", "", "%", "%zz", "a/b", "~", "\ud800"]),
)
CANONICAL_URL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]*(%[0-9A-F]{2}[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]*)*")


def test_url_values_are_percent_encoded_including_separators():
    url = templating.render_url("https://p.example/pb?c={click_id}&s={params.sub1}", {
        "click_id": "a&b=c#d?e/f g|x", "params.sub1": "ü~",
    })

    assert url == "https://p.example/pb?c=a%26b%3Dc%23d%3Fe%2Ff%20g%7Cx&s=%C3%BC~"


def test_the_templates_own_url_text_is_put_in_canonical_form():
    url = templating.render_url("https://p.example/a|b/%7e?x=y z&n=100%&k=%e6", {})

    assert url == "https://p.example/a%7Cb/%7E?x=y%20z&n=100%25&k=%E6"


def test_missing_values_render_empty():
    assert templating.render_url("https://p.example/?c={click_id}&x={params.nope}", {}) == "https://p.example/?c=&x="


def test_omit_leaves_out_the_whole_query_pair_when_empty():
    template = "https://p.example/pb?c={click_id}&s2={params.sub2|omit}&t=1"

    assert templating.render_url(template, {"click_id": "c"}) == "https://p.example/pb?c=c&t=1"
    assert templating.render_url(template, {"click_id": "c", "params.sub2": "x"}) == "https://p.example/pb?c=c&s2=x&t=1"


def test_a_query_whose_every_pair_is_omitted_loses_its_question_mark():
    assert templating.render_url("https://p.example/pb?s={params.s|omit}", {}) == "https://p.example/pb"


def test_filters_apply_in_urls():
    url = templating.render_url("https://p.example/pb?c={click_id|default:organic}&e={params.email|trim|lower}", {
        "params.email": "  Ann@Example.COM ",
    })

    assert url == "https://p.example/pb?c=organic&e=ann%40example.com"


@pytest.mark.parametrize("value", [".", ".."])
def test_a_value_that_would_make_a_dot_segment_is_refused(value):
    with pytest.raises(templating.TemplateError, match="path segment"):
        templating.render_url("https://p.example/pb/{click_id}/confirm", {"click_id": value})


@pytest.mark.parametrize("value, sent", [("...", "..."), ("%2e%2E", "%252e%252E"), ("a/..", "a%2F..")])
def test_dots_and_escapes_in_a_value_are_data(value, sent):
    url = templating.render_url("https://p.example/pb/{click_id}/x", {"click_id": value})

    assert url == f"https://p.example/pb/{sent}/x"


def test_form_body_is_form_encoded_and_omits_empty_pairs():
    body = templating.render_form("click={click_id}&amount={amount}&s={params.s|omit}", {
        "click_id": "a b&c=d", "amount": "10.00",
    })

    assert parse_qsl(body) == [("click", "a b&c=d"), ("amount", "10.00")]
    assert body == "click=a+b%26c%3Dd&amount=10.00"


def test_a_form_bodys_own_text_is_sent_as_ascii():
    assert templating.render_form("name=Jöhn Doe&c={click_id}", {"click_id": "ü"}) == "name=J%C3%B6hn%20Doe&c=%C3%BC"


def test_header_values_are_sent_as_ascii_with_the_rest_percent_encoded():
    assert templating.render_header("Bearer {click_id}", {"click_id": "x\r\nX-Evil: 1"}) == "Bearer x%0D%0AX-Evil: 1"
    assert templating.render_header("{click_id}", {"click_id": "日本"}) == "%E6%97%A5%E6%9C%AC"


def test_a_header_with_an_empty_omit_macro_is_left_out():
    assert templating.render_header("{params.token|omit}", {}) is None


@pytest.mark.parametrize(
    "template, message",
    [
        ("https://p.example/?c={clickid}", "Unknown macro {clickid}"),
        ("https://p.example/?c={click_id|shout}", "Unknown filter |shout in {click_id}"),
        ("https://p.example/?c={click_id|lower:x}", "takes no argument"),
        ("https://p.example/?c={occurred_at|date}", "needs a strftime pattern"),
        ("https://p.example/?c={occurred_at|date:%c}", "%c is not supported"),
        ("https://p.example/?c={sha256:params.email}", "is not a macro"),
        ("https://p.example/?c={amount|number}", "means nothing in a URL"),
        ("https://p.example/{click_id|omit}", "cannot be used in a URL's path"),
        ("https://p.example/a/../b", "'.' or '..' segment"),
        ("https://p.example/a/%2e/b", "'.' or '..' segment"),
        ("https://p.example/?c={amount|number|lower}", "must be the last filter"),
    ],
)
def test_url_templates_with_misused_macros_are_refused_naming_them(template, message):
    with pytest.raises(templating.TemplateError, match=re.escape(message)):
        templating.url_template(template)


def test_header_templates_are_printable_ascii():
    with pytest.raises(templating.TemplateError, match="printable ASCII"):
        templating.header_template("Bearer é")


@settings(max_examples=150)
@given(click=url_values, sub=url_values)
def test_no_value_can_add_or_change_query_parameters(click, sub):
    url = templating.render_url("https://p.example/pb?click={click_id}&sub={params.sub1}#frag", {
        "click_id": click, "params.sub1": sub,
    })

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "p.example", "/pb", "frag")
    assert parse_qs(parts.query, keep_blank_values=True) == {
        key: [value.encode("utf-8", "replace").decode()] for key, value in (("click", click), ("sub", sub))
    }


@settings(max_examples=150)
@given(click=url_values, sub=url_values)
def test_no_value_can_add_a_path_segment_or_move_up_the_path(click, sub):
    try:
        url = templating.render_url("https://p.example/pb/{click_id}/s-{params.sub1}/end", {
            "click_id": click, "params.sub1": sub,
        })
    except templating.TemplateError:
        assert click in (".", "..")
        return

    first, pb, value, prefixed, end = urlsplit(url).path.split("/")
    assert (first, pb, end) == ("", "pb", "end")
    assert unquote(value) == click.encode("utf-8", "replace").decode()
    assert unquote(prefixed) == "s-" + sub.encode("utf-8", "replace").decode()


@settings(max_examples=150)
@given(click=url_values, sub=url_values)
def test_rendered_urls_are_canonical_so_no_http_client_re_encodes_them(click, sub):
    try:
        url = templating.render_url("https://p.example/p/{click_id}?a={params.sub1}&b=x|y", {
            "click_id": click, "params.sub1": sub,
        })
    except templating.TemplateError:
        return

    assert CANONICAL_URL.fullmatch(url[len("https://p.example"):])
    parsed = urllib3.util.parse_url(url)
    assert url.endswith(parsed.request_uri)


@settings(max_examples=100)
@given(click=values_text)
def test_no_value_can_add_a_form_field(click):
    body = templating.render_form("click={click_id}&kind=sale", {"click_id": click})

    assert body.isascii()
    assert parse_qsl(body, keep_blank_values=True) == [("click", click.encode("utf-8", "replace").decode()),
                                                        ("kind", "sale")]


@settings(max_examples=150)
@given(value=st.text(max_size=40))
def test_no_value_can_start_a_new_header_or_fail_to_send(value):
    rendered = templating.render_header("token {click_id}", {"click_id": value})

    assert re.fullmatch(r"[\x20-\x7e]*", rendered)
    rendered.encode("latin-1")


def test_lone_surrogates_from_client_json_cannot_break_url_rendering():
    assert templating.render_url("https://p.example/?c={click_id}", {"click_id": "a\ud800b"}) == "https://p.example/?c=a%3Fb"
