OCRTool.main()
