"""Whose budget a request without a valid token spends: the socket peer's, unless the
peer is a trusted proxy; then the nearest X-Forwarded-For hop that is not one."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.networks import parse_networks
from app.ratelimit.addresses import address_key, client_address

PROXIES = parse_networks(["10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"])


def key(peer: str | None, *forwarded: str, proxies: tuple[str, ...] | None = None) -> str:
    networks = PROXIES if proxies is None else parse_networks(proxies)
    return address_key(client_address(peer, forwarded, networks))


def test_without_trusted_proxies_the_socket_peer_counts_whatever_the_headers_say() -> None:
    assert key("198.51.100.7", "203.0.113.9", proxies=()) == "ip:198.51.100.7"


def test_an_untrusted_peer_cannot_choose_its_address_by_header() -> None:
    assert key("198.51.100.7", "203.0.113.9") == "ip:198.51.100.7"


def test_behind_a_trusted_proxy_the_address_it_saw_counts() -> None:
    assert key("10.1.2.3", "203.0.113.9") == "ip:203.0.113.9"


def test_addresses_the_client_wrote_left_of_the_proxy_entry_are_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended what it saw.
    assert key("10.1.2.3", "1.1.1.1, 203.0.113.9") == "ip:203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert key("10.1.2.3", "1.1.1.1, 203.0.113.9, 192.0.2.10", "10.9.9.9") == "ip:203.0.113.9"


def test_when_every_hop_is_a_trusted_proxy_the_leftmost_counts() -> None:
    assert key("10.1.2.3", "10.7.7.7, 192.0.2.10") == "ip:10.7.7.7"


def test_garbage_in_the_chain_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert key("10.1.2.3", "203.0.113.9, not-an-ip") == "ip:10.1.2.3"
    assert key("10.1.2.3", "203.0.113.9,") == "ip:10.1.2.3"


def test_no_header_behind_a_trusted_proxy_counts_the_proxy() -> None:
    assert key("10.1.2.3") == "ip:10.1.2.3"


def test_ports_and_brackets_are_tolerated() -> None:
    assert key("10.1.2.3", "203.0.113.9:4711") == "ip:203.0.113.9"
    assert key("10.1.2.3", "[2001:db8:1:2::5]:443") == "ip:2001:db8:1:2::/64"


def test_ipv6_clients_share_the_budget_of_their_slash_64() -> None:
    assert key("2001:db8:1:2::5") == key("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert key("2001:db8:1:2::5") == "ip:2001:db8:1:2::/64"
    assert key("2001:db8:1:3::5") != key("2001:db8:1:2::5")


def test_an_ipv4_mapped_peer_is_its_ipv4_address() -> None:
    assert key("::ffff:198.51.100.7") == "ip:198.51.100.7"


def test_an_unknown_peer_has_one_shared_budget() -> None:
    assert key(None) == "ip:unknown"
    assert key("unix-socket") == "ip:unknown"


def test_trusted_proxy_settings_are_checked() -> None:
    assert parse_networks([" 10.0.0.0/8 ", "192.0.2.1"]) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
    )
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP address or network"):
        parse_networks(["10.0.0.0/33"])
