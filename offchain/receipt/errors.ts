import { PocError } from "../errors.js";

/** A receipt (object or bytes) that breaks the schema or the canonical encoding. */
export class ReceiptFormatError extends PocError {
  override name = "ReceiptFormatError";
}

/** Receipt content whose root is not the expected one (tampered, wrong file, wrong job). */
export class ReceiptMismatchError extends PocError {
  override name = "ReceiptMismatchError";
}

/** A receipt could not be fetched (network, HTTP status, timeout, size limit, unreadable file). */
export class ReceiptFetchError extends PocError {
  override name = "ReceiptFetchError";
}

/** A receipt store problem (malformed root, unknown receipt, unwritable directory). */
export class ReceiptStoreError extends PocError {
  override name = "ReceiptStoreError";
}

/** The store has no receipt with this root. */
export class ReceiptNotFoundError extends ReceiptStoreError {
  override name = "ReceiptNotFoundError";
}

/** A match bitmap of the wrong length or with nonzero unused bits. */
export class BitmapError extends PocError {
  override name = "BitmapError";
}
