/* ZSOM dashboard, browser side: hexagon tiling, timeline playback, debounced settings,
 * and the composed PNG export. Loaded by Dash from assets/; Plotly is the global one that
 * Dash serves from plotly's package (no CDN).
 *
 * Ids and constants come from Python (components/client.py): the clientside callbacks
 * get the client config as State; the document's listeners read data- attributes on the
 * elements they work on. */
(function () {
    "use strict";

    var HEX_TILE = "hex-tile";
    // Plotly's "hexagon" symbol is pointy-top with circumradius size / 2; rows of units one
    // unit apart tile the plane when size = 2 / sqrt(3) units. The extra fraction of a pixel
    // hides anti-aliasing seams between neighbours.
    var HEX_SIZE_PER_UNIT = 2 / Math.sqrt(3);
    var HEX_OVERLAP_PX = 0.6;

    function hexTraceIndices(gd) {
        var indices = [];
        (gd.data || []).forEach(function (trace, i) {
            if (trace && trace.meta === HEX_TILE) { indices.push(i); }
        });
        return indices;
    }

    /* Size the hexagon markers of a graph so that they tile its map exactly. Returns a
     * promise that settles once the graph is redrawn (or at once when nothing changed). */
    function fitHexMarkers(gd) {
        var full = gd._fullLayout;
        var indices = hexTraceIndices(gd);
        if (!indices.length || !full || !full.xaxis || !full.xaxis._length) { return Promise.resolve(); }
        var range = full.xaxis.range;
        var pxPerUnit = full.xaxis._length / Math.abs(range[1] - range[0]);
        var size = pxPerUnit * HEX_SIZE_PER_UNIT + HEX_OVERLAP_PX;
        gd.__zsomHexSize = size;
        var stale = indices.filter(function (i) {
            var marker = gd.data[i].marker || {};
            return typeof marker.size !== "number" || Math.abs(marker.size - size) > 0.25;
        });
        if (!stale.length) { return Promise.resolve(); }
        return window.Plotly.restyle(gd, {"marker.size": size}, stale);
    }

    /* Each epoch's patch gives dcc.Graph a figure with the server's nominal marker size;
     * drawing it and then resizing the hexagons would draw every map twice. Plotly.react
     * is wrapped once to put the last fitted size into the figure before it is drawn. */
    function keepHexSizes(Plotly) {
        if (Plotly.__zsomWrapped) { return; }
        var react = Plotly.react;
        Plotly.react = function (gd, spec) {
            var size = gd && gd.__zsomHexSize;
            if (size && spec && Array.isArray(spec.data)) {
                var data = spec.data.map(function (trace) {
                    if (!trace || trace.meta !== HEX_TILE) { return trace; }
                    return Object.assign({}, trace, {marker: Object.assign({}, trace.marker, {size: size})});
                });
                arguments[1] = Object.assign({}, spec, {data: data});
            }
            return react.apply(this, arguments);
        };
        Plotly.__zsomWrapped = true;
    }

    function hookGraph(gd) {
        if (gd.__zsomHooked || typeof gd.on !== "function") { return; }
        gd.__zsomHooked = true;
        gd.on("plotly_afterplot", function () { fitHexMarkers(gd); });
        fitHexMarkers(gd);
    }

    // dcc.Graph creates its plot divs when it mounts; hook each one as it appears.
    setInterval(function () {
        if (window.Plotly) { keepHexSizes(window.Plotly); }
        document.querySelectorAll(".js-plotly-plot").forEach(hookGraph);
    }, 300);

    // A slider's value box commits on blur; let Enter commit it too, as people expect.
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && event.target.classList && event.target.classList.contains("dash-range-slider-input")) {
            event.target.blur();
        }
    });

    /* The upload's size limit, checked before the browser reads the file. dcc.Upload drops
     * an oversized file without a word; this says why, next to the upload. Listeners on
     * the document's capture phase run before React's, so the file is never read. */
    function refuseOversizedFile(event, files) {
        var holder = event.target && event.target.closest && event.target.closest("[data-max-bytes]");
        if (!holder || !files || !files.length) { return; }
        var limit = Number(holder.getAttribute("data-max-bytes"));
        var file = files[0];
        if (!limit || file.size <= limit) { return; }
        event.preventDefault();
        event.stopPropagation();
        if (event.target.value) { event.target.value = ""; }
        var mb = function (bytes) { return (bytes / 1048576).toFixed(1) + " MB"; };
        window.dash_clientside.set_props(holder.getAttribute("data-message-id"), {
            children: {type: "Span", namespace: "dash_html_components", props: {
                className: "error",
                children: file.name.slice(0, 80) + ": the file is " + mb(file.size) + ", larger than the limit of " +
                    mb(limit) + ". Simplify or decimate the mesh and try again."}}
        });
    }
    document.addEventListener("change", function (event) {
        if (event.target && event.target.type === "file") { refuseOversizedFile(event, event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        refuseOversizedFile(event, event.dataTransfer && event.dataTransfer.files);
    }, true);

    function graphDiv(id) {
        var container = document.getElementById(id);
        if (!container) { return null; }
        return container.classList.contains("js-plotly-plot") ? container : container.querySelector(".js-plotly-plot");
    }

    /* A PNG data URL of one panel rendered at width x height CSS pixels: the panel is drawn
     * again off screen at that size (so hexagons tile at that size too), then exported. */
    function renderPanel(gd, width, height, scale) {
        var holder = document.createElement("div");
        holder.style.cssText = "position:fixed;left:-30000px;top:0;width:" + width + "px;height:" + height + "px;";
        document.body.appendChild(holder);
        // Traces share their arrays with the live graph; marker objects are copied because
        // resizing hexagons for the export must not touch the graph on screen.
        var data = gd.data.map(function (trace) {
            var copy = Object.assign({}, trace);
            if (trace.marker) { copy.marker = Object.assign({}, trace.marker); }
            return copy;
        });
        var layout = JSON.parse(JSON.stringify(gd.layout));
        layout.width = width;
        layout.height = height;
        layout.autosize = false;
        var Plotly = window.Plotly;
        return Plotly.newPlot(holder, data, layout, {staticPlot: true, displayModeBar: false})
            .then(function () { return fitHexMarkers(holder); })
            .then(function () { return Plotly.toImage(holder, {format: "png", width: width, height: height, scale: scale}); })
            .finally(function () { Plotly.purge(holder); holder.remove(); });
    }

    function loadImage(url) {
        return new Promise(function (resolve, reject) {
            var image = new Image();
            image.onload = function () { resolve(image); };
            image.onerror = function () { reject(new Error("a panel could not be rendered")); };
            image.src = url;
        });
    }

    function statusText(id) {
        var status = document.getElementById(id);
        return status ? status.innerText.replace(/\s+/g, " ").trim() : "";
    }

    function downloadCanvas(canvas, filename) {
        return new Promise(function (resolve, reject) {
            canvas.toBlob(function (blob) {
                if (!blob) { reject(new Error("the figure could not be encoded")); return; }
                var url = URL.createObjectURL(blob);
                var link = document.createElement("a");
                link.href = url;
                link.download = filename;
                document.body.appendChild(link);
                link.click();
                link.remove();
                setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
                resolve();
            }, "image/png");
        });
    }

    function safeName(text) {
        return String(text || "data").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "data";
    }

    /* All panels of the chosen epoch as one PNG, laid out by the server's export spec. */
    function composeFigure(view, spec, config) {
        var header = config.export_header;
        var tileW = spec.tile[0], tileH = spec.tile[1], scale = spec.scale;
        var canvas = document.createElement("canvas");
        canvas.width = spec.columns * tileW * scale;
        canvas.height = (spec.header + spec.rows * tileH) * scale;
        var context = canvas.getContext("2d");
        context.fillStyle = header.background;
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.fillStyle = header.title_color;
        context.font = "600 " + (header.title_size * scale) + "px " + header.font;
        context.textBaseline = "middle";
        var title = "ZSOM: " + (view.label || "data") + (view.epoch ? ", epoch " + view.epoch : "");
        context.fillText(title, 16 * scale, spec.header * scale * 0.34);
        context.fillStyle = header.text_color;
        context.font = (header.text_size * scale) + "px " + header.font;
        context.fillText(statusText(config.ids.status), 16 * scale, spec.header * scale * 0.74, canvas.width - 32 * scale);

        // One panel after the other: each off-screen WebGL scene is freed before the next.
        return spec.cells.reduce(function (previous, cell) {
            return previous.then(function () {
                var gd = graphDiv(cell.panel);
                if (!gd || !gd.data) { return null; }
                var width = tileW * cell.span;
                return renderPanel(gd, width, tileH, scale).then(loadImage).then(function (image) {
                    context.drawImage(image, cell.column * tileW * scale, (spec.header + cell.row * tileH) * scale,
                                      width * scale, tileH * scale);
                });
            });
        }, Promise.resolve()).then(function () {
            var name = "zsom-" + safeName(view.label) + (view.epoch ? "-epoch-" + view.epoch : "") + ".png";
            return downloadCanvas(canvas, name).then(function () { return name; });
        });
    }

    var settingsToken = 0;

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.zsom = {
        play: function (_clicks, _ticks, value, max, stopped, config) {
            var noUpdate = window.dash_clientside.no_update;
            var trigger = window.dash_clientside.callback_context.triggered_id;
            value = value || 1;
            max = max || 1;
            if (trigger === config.ids.play) {
                if (!stopped) { return [noUpdate, true, "\u25B6"]; }
                if (max <= 1) { return [noUpdate, true, "\u25B6"]; }
                return [value >= max ? 1 : noUpdate, false, "\u275A\u275A"];
            }
            if (value >= max) { return [noUpdate, true, "\u25B6"]; }
            var step = Math.max(1, Math.round(max / config.play_steps));
            return [Math.min(max, value + step), false, noUpdate];
        },

        // The settings' values, then the client config.
        debounceSettings: function () {
            var config = arguments[arguments.length - 1];
            var token = ++settingsToken;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(token === settingsToken ? Date.now() : window.dash_clientside.no_update);
                }, config.debounce_ms);
            });
        },

        showWhenMinkowski: function (metric) {
            return metric === "minkowski" ? {} : {display: "none"};
        },

        exportFigure: function (_clicks, view, spec, config) {
            if (!window.Plotly || !spec || !config) { return "export is not available"; }
            return composeFigure(view || {}, spec, config).then(function (name) {
                return "Saved " + name;
            }, function (error) {
                return "Export failed: " + error.message;
            });
        }
    };

    window.zsom = {fitHexMarkers: fitHexMarkers, composeFigure: composeFigure};
})();
