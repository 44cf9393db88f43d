"""Colours and fonts shared by every figure, so that the panels read as one figure."""

FONT = "Inter, 'Segoe UI', system-ui, -apple-system, Roboto, Helvetica, Arial, sans-serif"
TEXT = "#1f2937"
MUTED = "#6b7280"
GRID_LINE = "#e5e7eb"
PAPER = "#ffffff"
PLOT_BG = "#ffffff"

# One colour scale for the U-Matrix wherever it appears: the heatmap, its 3-D surface and
# the map draped over the data. Low distances (inside clusters) dark, borders bright.
U_COLORSCALE = "Viridis"
# Hits: light to dark blue; a unit that wins nothing is drawn grey with a cross instead.
HITS_COLORSCALE = [[0.0, "#e0ecfb"], [0.3, "#7cb3f2"], [1.0, "#1e3a8a"]]
DEAD_UNIT = "#a8adb5"
# A map before its first epoch: every unit the same pale grey.
BLANK_COLORSCALE = [[0.0, "#eceff3"], [1.0, "#eceff3"]]
DEAD_MARK = "#b91c1c"

POINTS = "#64748b"
MESH = "#cbd5e1"
WIREFRAME = "#111827"
BMU_LINE = "rgba(100, 116, 139, 0.35)"
MISSING_LABEL = "#cbd5e1"
# No grey among the first: a unit or point without a label is drawn grey.
LABEL_COLORS = ["#0ea5e9", "#f97316", "#10b981", "#a855f7", "#ef4444", "#eab308", "#14b8a6", "#ec4899",
                "#84cc16", "#6366f1", "#64748b", "#78716c"]

MQE = "#2563eb"
TE = "#dc2626"
SIGMA = "#059669"
LEARNING_RATE = "#d97706"
CURRENT_EPOCH = "#111827"

TITLE_SIZE = 13
BASE_SIZE = 11

# Views that read a trained map.
PLANE_COLORSCALE = "RdYlBu_r"
CLUSTER_BORDER = "#111827"
CHOSEN_UNIT = "#f43f5e"
PIE_BACKGROUND = "#f8fafc"
