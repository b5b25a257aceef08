import socket

from components.common.net import LOOPBACK, free_port


def test_free_port_hands_out_a_port_a_server_can_bind_and_reach_on_that_address():
    port = free_port()
    assert 1024 <= port <= 65535  # an ephemeral port, never 0 (which would mean "any")
    with socket.socket() as server:
        server.bind((LOOPBACK, port))  # raises OSError if the port were still taken
        server.listen()
        with socket.create_connection((LOOPBACK, port), timeout=5):
            pass

