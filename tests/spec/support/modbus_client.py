"""A pymodbus client run by the Modbus spec tests as an independent peer.

Usage: modbus_client.py PORT FRAMER OPS_JSON
  FRAMER: socket (Modbus TCP) or rtu (RTU frames over TCP)
  OPS_JSON: a list of {"fc", "address", "count"?, "value"?, "values"?, "unit"?}

Prints one JSON list: per operation {"registers": [...]}, {"bits": [...]} (as many as
asked), {"ok": true} for writes, {"exception": code} or {"error": text}.
"""

import json
import sys

from pymodbus import FramerType
from pymodbus.client import ModbusTcpClient


def run(client, op):
    fc, address, unit = op["fc"], op["address"], op.get("unit", 1)
    count = op.get("count", 1)
    calls = {
        1: lambda: client.read_coils(address, count=count, device_id=unit),
        2: lambda: client.read_discrete_inputs(address, count=count, device_id=unit),
        3: lambda: client.read_holding_registers(address, count=count, device_id=unit),
        4: lambda: client.read_input_registers(address, count=count, device_id=unit),
        5: lambda: client.write_coil(address, op["value"], device_id=unit),
        6: lambda: client.write_register(address, op["value"], device_id=unit),
        15: lambda: client.write_coils(address, op["values"], device_id=unit),
        16: lambda: client.write_registers(address, op["values"], device_id=unit),
    }
    try:
        result = calls[fc]()
    except Exception as e:  # a timeout or a broken connection is an answer too
        return {"error": str(e)}
    if result.isError():
        return {"exception": getattr(result, "exception_code", None)}
    if fc in (1, 2):
        return {"bits": list(result.bits[:count])}
    if fc in (3, 4):
        return {"registers": list(result.registers)}
    return {"ok": True}


def main():
    port, framer, ops = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    framer = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
    client = ModbusTcpClient("127.0.0.1", port=port, framer=framer, timeout=2, retries=0)
    if not client.connect():
        print(json.dumps([{"error": "cannot connect"}]))
        return
    try:
        print(json.dumps([run(client, op) for op in ops]))
    finally:
        client.close()


if __name__ == "__main__":
    main()
