# attempt: open a TCP connection
# expect: outside_subset:PY_IMPORT_DENIED
import socket
s = socket.create_connection(("127.0.0.1", 22), timeout=1)
s.sendall(b"hello")
