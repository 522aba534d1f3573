"""Clients told apart beyond their address: the page's per-tab id (header or query)."""

from __future__ import annotations

from app.core.clients import client_key


def scope(headers=(), query=b"", address="10.0.0.7"):
    return {"client": (address, 5555), "headers": list(headers), "query_string": query}


def test_tabs_behind_one_address_are_different_clients():
    one = client_key(scope([(b"x-gatescope-tab", b"a1b2c3d4e5f6")]))
    two = client_key(scope(query=b"format=binary&tab=ffeeddccbbaa"))
    assert one == "10.0.0.7#a1b2c3d4e5f6" and two == "10.0.0.7#ffeeddccbbaa"


def test_no_tab_or_a_malformed_one_is_the_address_alone():
    assert client_key(scope()) == "10.0.0.7"
    assert client_key(scope([(b"x-gatescope-tab", b"<script>")])) == "10.0.0.7"
    assert client_key(scope(query=b"tab=" + b"x" * 200)) == "10.0.0.7"
    assert client_key({"headers": []}) == "?"
