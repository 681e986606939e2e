-- The example merchant's ledger (examples/ledger/postgres.js applies this once, under an
-- advisory lock, and notes it in ledger_migrations). Amounts are integer cents: the amount as
-- written with 2 decimals in the orderStr, times 100.
--
-- What the database itself guarantees, whatever JavaScript (or psql) writes to it:
--   * one payment per order         payments.out_trade_no is the primary key
--   * one order per Alipay trade    payments.trade_no is unique
--   * a payment is for its order    payment_matches_order: same amount and currency
--   * one refund per refund id      refunds.out_return_no is the primary key
--   * a refund only of a payment    refunds.out_trade_no references payments, in its currency
--   * refunds never above the paid amount
--                                   payments.refunded_cents (kept by a trigger on refunds, in
--                                   the same statement) is CHECKed to be <= amount_cents; two
--                                   refunds inserted at once both update that one payment row,
--                                   so the second waits for the first and is checked against
--                                   its total (READ COMMITTED), or fails to serialize (higher
--                                   levels): never both
--   * a refund's outcome is final   PENDING -> SUCCESS | FAILED, never back, never changed;
--                                   its order, amount, currency and reason never change

CREATE TABLE orders (
  out_trade_no  text PRIMARY KEY CHECK (length(out_trade_no) BETWEEN 1 AND 64),
  subject       text NOT NULL,
  body          text,
  amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
  currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  seller_id     text NOT NULL,
  status        text NOT NULL DEFAULT 'UNPAID' CHECK (status IN ('UNPAID', 'PAID', 'CLOSED')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- When the recovery loop next asks Alipay about an order still UNPAID.
  next_check_at timestamptz,
  closed_at     timestamptz
);
CREATE INDEX orders_to_check ON orders (next_check_at) WHERE status = 'UNPAID';

CREATE TABLE payments (
  out_trade_no   text PRIMARY KEY REFERENCES orders (out_trade_no),
  trade_no       text NOT NULL UNIQUE,
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       text NOT NULL,
  -- How the merchant learnt of it: Alipay's notification, or the recovery loop's query.
  source         text NOT NULL CHECK (source IN ('notification', 'query')),
  notify_id      text,
  buyer_id       text,
  gmt_payment    text,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  -- Refunds made or in progress (not failed), kept by refunds_count_against_payment.
  refunded_cents bigint NOT NULL DEFAULT 0,
  CONSTRAINT refunds_within_paid_amount CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents)
);

CREATE TABLE refunds (
  out_return_no text PRIMARY KEY CHECK (length(out_return_no) BETWEEN 1 AND 64),
  out_trade_no  text NOT NULL REFERENCES payments (out_trade_no),
  amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
  currency      text NOT NULL,
  reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
  status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
  error_code    text,
  -- How many times a worker took this refund up (the first sends it; later ones ask Alipay first).
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  settled_at    timestamptz,
  CONSTRAINT refund_settled_when_final CHECK ((status = 'PENDING') = (settled_at IS NULL))
);
CREATE INDEX refunds_of_payment ON refunds (out_trade_no);
CREATE INDEX refunds_pending ON refunds (requested_at) WHERE status = 'PENDING';

-- A payment is for its order's amount and currency.
CREATE FUNCTION ledger_payment_matches_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  o orders%ROWTYPE;
BEGIN
  SELECT * INTO o FROM orders WHERE out_trade_no = NEW.out_trade_no;
  IF NOT FOUND THEN
    RETURN NEW; -- the foreign key refuses it
  END IF;
  IF o.amount_cents <> NEW.amount_cents OR o.currency <> NEW.currency THEN
    RAISE EXCEPTION 'payment of % % cents for order % does not match the order (% % cents)',
        NEW.currency, NEW.amount_cents, NEW.out_trade_no, o.currency, o.amount_cents
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_matches_order', TABLE = 'payments';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER payment_matches_order BEFORE INSERT ON payments
  FOR EACH ROW EXECUTE FUNCTION ledger_payment_matches_order();

-- A payment never changes, except refunded_cents, and that only from the refunds trigger.
CREATE FUNCTION ledger_payment_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.out_trade_no, NEW.trade_no, NEW.amount_cents, NEW.currency)
       IS DISTINCT FROM (OLD.out_trade_no, OLD.trade_no, OLD.amount_cents, OLD.currency)
     OR (NEW.refunded_cents IS DISTINCT FROM OLD.refunded_cents AND pg_trigger_depth() < 2) THEN
    RAISE EXCEPTION 'payment % is recorded: its order, trade, amount and currency never change, and refunded_cents is kept by the refunds table', OLD.out_trade_no
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_is_final', TABLE = 'payments';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER payment_is_final BEFORE UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION ledger_payment_unchanged();

-- A refund's terms never change, and its outcome, once known, is final.
CREATE FUNCTION ledger_refund_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.out_return_no, NEW.out_trade_no, NEW.amount_cents, NEW.currency, NEW.reason, NEW.requested_at)
       IS DISTINCT FROM (OLD.out_return_no, OLD.out_trade_no, OLD.amount_cents, OLD.currency, OLD.reason, OLD.requested_at) THEN
    RAISE EXCEPTION 'refund %: its order, amount, currency and reason never change', OLD.out_return_no
      USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_terms_are_final', TABLE = 'refunds';
  END IF;
  IF OLD.status <> 'PENDING' AND (NEW.status, NEW.error_code) IS DISTINCT FROM (OLD.status, OLD.error_code) THEN
    RAISE EXCEPTION 'refund % is % already: an outcome is final', OLD.out_return_no, OLD.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_outcome_is_final', TABLE = 'refunds';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refund_outcome_is_final BEFORE UPDATE ON refunds
  FOR EACH ROW EXECUTE FUNCTION ledger_refund_transition();

-- A refund is in its payment's currency.
CREATE FUNCTION ledger_refund_currency() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  paid_currency text;
BEGIN
  SELECT currency INTO paid_currency FROM payments WHERE out_trade_no = NEW.out_trade_no;
  IF FOUND AND paid_currency <> NEW.currency THEN
    RAISE EXCEPTION 'refund % is in %, its payment in %', NEW.out_return_no, NEW.currency, paid_currency
      USING ERRCODE = 'check_violation', CONSTRAINT = 'refund_currency_is_payment_currency', TABLE = 'refunds';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refund_currency_is_payment_currency BEFORE INSERT ON refunds
  FOR EACH ROW EXECUTE FUNCTION ledger_refund_currency();

-- payments.refunded_cents follows the refunds that are not FAILED, in the same statement, so
-- that the CHECK refunds_within_paid_amount on payments holds the sum against the paid amount.
CREATE FUNCTION ledger_refunds_count_against_payment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before_cents bigint := 0;
  after_cents bigint := 0;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'FAILED' THEN
    before_cents := OLD.amount_cents;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'FAILED' THEN
    after_cents := NEW.amount_cents;
  END IF;
  IF after_cents <> before_cents THEN
    UPDATE payments SET refunded_cents = refunded_cents + after_cents - before_cents
      WHERE out_trade_no = COALESCE(NEW.out_trade_no, OLD.out_trade_no);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER refunds_count_against_payment AFTER INSERT OR UPDATE OR DELETE ON refunds
  FOR EACH ROW EXECUTE FUNCTION ledger_refunds_count_against_payment();
