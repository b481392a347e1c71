FROM python:3.11-slim
# pango and fonts: WeasyPrint's layout libraries, for the PDF progress report
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY ledger ./ledger
COPY evidence_store ./evidence_store
COPY projections ./projections
COPY api ./api
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/inquiry-ledger ledger \
    && mkdir -p /var/lib/inquiry-ledger && chown ledger /var/lib/inquiry-ledger
USER ledger
ENV INQUIRY_LEDGER_HOME=/var/lib/inquiry-ledger
EXPOSE 8000
ENTRYPOINT ["inquiry-ledger"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
