"""Textos em português de /history, /export e /stats."""

from bot.conversation.texts.catalog import HistoryTexts

PORTUGUESE_HISTORY = HistoryTexts(
    command_history="O que aconteceu com os registros, com filtros: /history [N] [chave:valor…]",
    command_export="O histórico num arquivo CSV (mesmos filtros do /history)",
    command_stats="Registros por instância: /stats [dias]",
    usage=(
        "Uso: /history [N] [membro:NOME|ID] [instancia:NOME] [resultado:RESULTADO] "
        "[numero:FINAL] [dias:D]\nN de 1 a 100 (padrão 10); RESULTADO: conectado, banido, "
        "indisponivel, recurso, desbanido, recusado, cancelado, expirado, liberado (ou os "
        "nomes em inglês)."
    ),
    header="Registros, do mais novo ao mais antigo (horário de {zone}):",
    line="• {when} · {member} · {instance} · {number} · {outcome}",
    none="Nada no histórico bate com isso.",
    as_file="{count} eventos: é coisa demais para mensagens, então vai em arquivo.",
    outcomes={
        "register:connected": "conectado",
        "check:available": "verificado: disponível",
        "check:banned": "banido",
        "check:unavailable": "não pode ser registrado",
        "appeal:in_review": "recurso: em análise",
        "appeal:unbanned": "recurso: desbanido",
        "appeal:refused": "recurso recusado",
        "cancel:cancelled": "cancelado",
        "timeout:timed_out": "expirou por inatividade",
        "lease:lost": "instância tomada por outro registro",
        "admin:released": "liberado por {admin}",
        "admin:denied": "encerrado: acesso removido por {admin}",
    },
    export_caption=(
        "Histórico: {count} eventos ({numbers}). As colunas estão descritas no README."
    ),
    export_masked="números mascarados",
    export_full="números completos",
    stats_usage=(
        "Uso: /stats [dias] [teste] com dias de 1 a 3660 (padrão 30); com teste, os cadastros "
        "de teste também entram no total."
    ),
    stats_header="Registros começados nos últimos {days} dias:",
    stats_columns=(
        "instância",
        "começados",
        "conectados",
        "banidos",
        "recursos",
        "desbanidos",
        "recusados",
        "expirados",
        "cancelados",
        "mediana",
    ),
    stats_total="total",
    stats_median_by_method="Mediana de /register até conectar, por método: {methods}",
    stats_none="Nenhum registro começou nos últimos {days} dias.",
)
