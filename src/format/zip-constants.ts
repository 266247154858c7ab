/** PKZIP record signatures and sizes (APPNOTE.TXT 6.3.x), shared by the zip reader and writer. */

export const LOCAL_HEADER_SIG = 0x04034b50; // PK\3\4
export const CENTRAL_HEADER_SIG = 0x02014b50; // PK\1\2
export const EOCD_SIG = 0x06054b50; // PK\5\6
export const ZIP64_EOCD_SIG = 0x06064b50; // PK\6\6
export const ZIP64_LOCATOR_SIG = 0x07064b50; // PK\6\7

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const EOCD_SIZE = 22;
export const ZIP64_EOCD_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;

/** Extra field holding 64-bit sizes and offsets. */
export const ZIP64_EXTRA_ID = 0x0001;
/** Extra field used only to pad a local header so the entry's data lands on an aligned offset (as zipalign does). */
export const PADDING_EXTRA_ID = 0xd935;

export const METHOD_STORED = 0;
export const U32_MAX = 0xffffffff;
export const U16_MAX = 0xffff;
