import GGOCR

OCRTool.main()
