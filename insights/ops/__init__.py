"""Operations bookkeeping: counting redelivered task messages so a poison message stops."""
