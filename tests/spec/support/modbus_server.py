"""A Modbus device for Ferrite's tests, served by pymodbus (an implementation that shares
no code with Ferrite): units 1 and 2, each with 100 coils (all off), 100 discrete inputs
(on at even addresses), 100 holding registers (10 x address) and 100 input registers
(1000 + address).

usage: modbus_server.py tcp PORT | rtu-tcp PORT | serial PATH
Prints "ready" once it serves.
"""

import asyncio
import sys

from pymodbus import FramerType
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.server import ModbusSerialServer, ModbusTcpServer


def device():
    # pymodbus maps protocol address a to block index a + 1, hence the blocks start at 1.
    return ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * 100),
        di=ModbusSequentialDataBlock(1, [a % 2 == 0 for a in range(100)]),
        hr=ModbusSequentialDataBlock(1, [10 * a for a in range(100)]),
        ir=ModbusSequentialDataBlock(1, [1000 + a for a in range(100)]),
    )


async def main(kind, where):
    context = ModbusServerContext(devices={1: device(), 2: device()}, single=False)
    if kind == "serial":
        server = ModbusSerialServer(context, framer=FramerType.RTU, port=where, baudrate=19200)
    else:
        framer = FramerType.SOCKET if kind == "tcp" else FramerType.RTU
        server = ModbusTcpServer(context, framer=framer, address=("127.0.0.1", int(where)))
    # Listening (the port bound, or the serial device open): the test side waits for this.
    await server.serve_forever(background=True)
    print("ready", flush=True)
    await server.serving


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
