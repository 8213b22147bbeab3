"""The MFRC522's registers, commands and bits used here, by the names of NXP's datasheet (rev. 3.9, section 9).

Shared by the reader service and the chip model, so both speak of the same bits.
"""

COMMAND, COM_IEN, DIV_IEN, COM_IRQ, DIV_IRQ, ERROR, STATUS1, STATUS2 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING, COLL = 0x09, 0x0A, 0x0C, 0x0D, 0x0E
MODE, TX_CONTROL, TX_ASK, CRC_RESULT_M, CRC_RESULT_L, T_MODE, T_PRESCALER = 0x11, 0x14, 0x15, 0x21, 0x22, 0x2A, 0x2B
VERSION = 0x37
IDLE, CALC_CRC, TRANSCEIVE, MF_AUTHENT, SOFT_RESET = 0x00, 0x03, 0x0C, 0x0E, 0x0F
TIMER_IRQ, ERR_IRQ, IDLE_IRQ, RX_IRQ = 0x01, 0x02, 0x10, 0x20
CRC_IRQ = 0x04
PROTOCOL_ERR, PARITY_ERR, COLL_ERR = 0x01, 0x02, 0x08
CRYPTO1_ON = 0x08
